<?php
/**
 * promoset's WHMCS hooks (WHMCS loads every active addon's hooks.php).
 *
 * ShoppingCartValidateCheckout  asks promoset whether this customer may use the code in the cart;
 *                               a refusal is shown as the checkout error, in promoset's sentence.
 * AfterShoppingCartCheckout     reports the order's promo code(s): promoset records the redemption
 *                               at once (and sends its promotion.redeemed webhook). WHMCS has counted
 *                               the use in tblpromotions itself; promoset does not count it again.
 * CancelOrder, FraudOrder,      promoset rolls the order's redemption back and gives WHMCS's use back
 * DeleteOrder                   (once, however many of the three run).
 *
 * Every call is idempotent per order on promoset's side, so a repeated hook changes nothing.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

require_once __DIR__ . '/lib/client.php';

/** The code in the cart: the hook's own variable, else the cart session WHMCS keeps it in. */
function promoset_cart_code(array $vars): string
{
    $code = $vars['promocode'] ?? ($_SESSION['cart']['promo'] ?? '');
    return is_string($code) ? trim($code) : '';
}

add_hook('ShoppingCartValidateCheckout', 1, function (array $vars) {
    $code = promoset_cart_code($vars);
    if ($code === '') {
        return [];
    }
    $clientId = (int) ($vars['clientId'] ?? $vars['userid'] ?? ($_SESSION['uid'] ?? 0));
    $email = isset($vars['email']) && is_string($vars['email']) && $vars['email'] !== '' ? $vars['email'] : promoset_client_email($clientId ?: null);
    $settings = promoset_settings();
    $result = promoset_call($settings, [
        'event' => 'validate_checkout',
        'promocode' => $code,
        'client_id' => $clientId > 0 ? $clientId : null,
        'client_email' => $email,
    ]);
    if (!$result['ok']) {
        $allow = $settings['unreachable'] === 'allow';
        logActivity('promoset: promo code ' . $code . ' was not checked at checkout: ' . $result['error'] . '. '
            . ($allow ? 'The checkout was allowed' : 'The checkout was refused') . ' (setting "When promoset is unreachable": ' . $settings['unreachable'] . ').');
        return $allow ? [] : ['The promo code ' . $code . ' cannot be checked right now. Please try again in a few minutes, or remove the code to continue.'];
    }
    $reply = $result['reply'];
    if (($reply['allowed'] ?? true) === false) {
        return [(string) ($reply['message'] ?? 'This promo code cannot be used on this account.')];
    }
    return [];
});

add_hook('AfterShoppingCartCheckout', 1, function (array $vars) {
    $orderId = (int) ($vars['OrderID'] ?? 0);
    if ($orderId <= 0) {
        return;
    }
    $order = promoset_order($orderId);
    if ($order['codes'] === []) {
        return;
    }
    $settings = promoset_settings();
    $result = promoset_call($settings, [
        'event' => 'checkout',
        'order_id' => $orderId,
        'invoice_id' => (int) ($vars['InvoiceID'] ?? 0) ?: $order['invoice_id'],
        'promocodes' => $order['codes'],
        'client_id' => $order['client_id'],
        'client_email' => promoset_client_email($order['client_id']),
    ]);
    if (!$result['ok']) {
        logActivity('promoset: order ' . $orderId . ' (promo code ' . implode(', ', $order['codes']) . ') was not reported: ' . $result['error']
            . '. promoset\'s uses sync still counts the use within a minute; the redemption record and its webhook are missing.');
    }
});

/** CancelOrder, FraudOrder and DeleteOrder: the order's redemption is rolled back in promoset, and its use given back. */
function promoset_order_ended(string $event, array $vars): void
{
    $orderId = (int) ($vars['orderid'] ?? $vars['orderId'] ?? 0);
    if ($orderId <= 0) {
        return;
    }
    $order = promoset_order($orderId);
    $settings = promoset_settings();
    $result = promoset_call($settings, [
        'event' => $event,
        'order_id' => $orderId,
        'promocodes' => $order['codes'],
        'client_id' => $order['client_id'],
    ]);
    if (!$result['ok']) {
        logActivity('promoset: ' . $event . ' of order ' . $orderId . ' was not reported: ' . $result['error']
            . '. The promo code\'s use stays counted; repeat the action when promoset is back.');
    }
}

add_hook('CancelOrder', 1, function (array $vars) {
    promoset_order_ended('cancel', $vars);
});

add_hook('FraudOrder', 1, function (array $vars) {
    promoset_order_ended('fraud', $vars);
});

add_hook('DeleteOrder', 1, function (array $vars) {
    promoset_order_ended('delete', $vars);
});
