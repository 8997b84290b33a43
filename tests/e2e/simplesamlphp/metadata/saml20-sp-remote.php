<?php
// The service providers (Opti ID SSO connections) this IdP answers: settings.json
// "service_providers": [{"entity_id": <sp_entity_id>, "acs_url": <acs_url>}].
// SimpleSAMLphp posts the Response to the ACS URL registered here, whatever the request says.
require_once dirname(__DIR__) . '/e2e_settings.php';
$e2e = optiid_e2e_settings();

foreach ($e2e['service_providers'] as $sp) {
    $metadata[$sp['entity_id']] = [
        'AssertionConsumerService' => [
            [
                'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
                'Location' => $sp['acs_url'],
                'index' => 0,
            ],
        ],
        'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        'simplesaml.nameidattribute' => 'email',
        'saml20.sign.response' => true,
        'saml20.sign.assertion' => true,
    ];
}
