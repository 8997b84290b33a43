<?php
// Shared by the configuration files below: the values the test session writes to
// settings.json next to config.php (ports, temp dirs, users, registered service providers).
// Read at each request, so a test may change the users while the server runs.
function optiid_e2e_settings(): array
{
    $dir = getenv('SIMPLESAMLPHP_CONFIG_DIR');
    $settings = json_decode(file_get_contents($dir . '/settings.json'), true, 512, JSON_THROW_ON_ERROR);
    $settings['config_dir'] = $dir;
    return $settings;
}
