<?php
// The IdP: signs both the Response and the Assertion, NameID emailAddress from the
// "email" attribute, attributes sent under their own names (no URN mapping).
require_once dirname(__DIR__) . '/e2e_settings.php';
$e2e = optiid_e2e_settings();

$metadata[$e2e['idp_entity_id']] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'e2e-users',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'email',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
];
