<?php
// SimpleSAMLphp 1.19 as a SAML 2.0 IdP for the end-to-end tests, served by `php -S`
// on http://localhost:<port>/ (the app under test runs on 127.0.0.1, another site).
require_once __DIR__ . '/e2e_settings.php';
$e2e = optiid_e2e_settings();

$config = [
    'baseurlpath' => $e2e['base_url'],
    'certdir' => $e2e['config_dir'] . '/cert/',
    'loggingdir' => $e2e['config_dir'] . '/log/',
    'datadir' => $e2e['config_dir'] . '/data/',
    'tempdir' => $e2e['config_dir'] . '/tmp/',
    'metadatadir' => $e2e['config_dir'] . '/metadata/',
    'metadata.sources' => [['type' => 'flatfile']],

    'technicalcontact_name' => 'Opti ID end-to-end tests',
    'technicalcontact_email' => 'e2e@example.invalid',
    'timezone' => 'UTC',
    'secretsalt' => $e2e['secret_salt'],
    'auth.adminpassword' => $e2e['admin_password'],
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
        'admin' => true,
    ],

    'showerrors' => true,
    'errorreporting' => false,
    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'statistics.out' => [],

    // PHP sessions in the temp dir; plain-http cookies (no Secure flag) on localhost.
    'store.type' => 'phpsession',
    'session.phpsession.savepath' => $e2e['config_dir'] . '/sessions',
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.cookie.name' => 'SimpleSAMLSessionID',
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.duration' => 60 * 60,
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,
    'language.default' => 'en',
    'language.available' => ['en'],

    'theme.use' => 'default',
    'production' => false,
    'trusted.url.domains' => [],
];
