<?php
// One username/password source: the people the test session defines (settings.json
// "users": {"<email>:<password>": {"email": [...], "givenName": [...], "sn": [...], "groups": [...]}}).
require_once __DIR__ . '/e2e_settings.php';
$e2e = optiid_e2e_settings();

$config = [
    'admin' => ['core:AdminPassword'],
    'e2e-users' => array_merge(['exampleauth:UserPass'], $e2e['users']),
];
