<?php
/**
 * promoset for WHMCS: enforces promo codes bound to one customer at checkout,
 * and reports redemptions and cancelled orders to promoset the moment they happen.
 *
 * WHMCS reads this file for the module's settings (Configuration > System
 * Settings > Addon Modules); the work is done by hooks.php. PHP 8.1+, no Composer.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

function promoset_config(): array
{
    return [
        'name' => 'promoset',
        'description' => 'Promo codes bound to one customer are refused for anyone else at checkout; '
            . 'redemptions and cancelled orders reach promoset at once (its 30-second uses sync stays as a safety net).',
        'author' => 'promoset',
        'language' => 'english',
        'version' => '1.0.0',
        'fields' => [
            'url' => [
                'FriendlyName' => 'promoset URL',
                'Type' => 'text',
                'Size' => '60',
                'Default' => '',
                'Description' => 'promoset\'s base URL (its PUBLIC_URL), e.g. https://promo.example.com',
            ],
            'secret' => [
                'FriendlyName' => 'Shared secret',
                'Type' => 'password',
                'Size' => '60',
                'Default' => '',
                'Description' => 'The same value as promoset\'s WHMCS_HOOK_SECRET (16 characters or more).',
            ],
            'unreachable' => [
                'FriendlyName' => 'When promoset is unreachable',
                'Type' => 'dropdown',
                'Options' => 'refuse,allow',
                'Default' => 'refuse',
                'Description' => 'refuse: a checkout with a promo code is stopped with a "try again" message. '
                    . 'allow: the checkout goes on unchecked. Either way it is written to the Activity Log.',
            ],
        ],
    ];
}

function promoset_activate(): array
{
    return [
        'status' => 'success',
        'description' => 'promoset is active. Enter promoset\'s URL and the shared secret (promoset\'s WHMCS_HOOK_SECRET) '
            . 'in this module\'s settings; until then checkouts are not checked and nothing is reported.',
    ];
}

function promoset_deactivate(): array
{
    // Nothing to drop: the module keeps no tables of its own. WHMCS removes its settings.
    return [
        'status' => 'success',
        'description' => 'promoset is deactivated: bound codes are no longer checked at checkout. '
            . 'promoset\'s uses sync still picks up WHMCS\'s counts every 30 seconds.',
    ];
}
