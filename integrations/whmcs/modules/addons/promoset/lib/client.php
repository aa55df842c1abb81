<?php
/**
 * The addon's one way to promoset: a signed JSON POST to {url}/whmcs/hooks.
 * Promoset-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>,
 * as promoset signs its own webhooks; promoset refuses anything older than 5 minutes.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

use WHMCS\Database\Capsule;

/** Seconds to wait for promoset: a checkout waits this long at most. */
const PROMOSET_TIMEOUT_SECONDS = 5;

/** The module's settings as WHMCS keeps them (tbladdonmodules), with defaults. */
function promoset_settings(): array
{
    $stored = Capsule::table('tbladdonmodules')->where('module', 'promoset')->pluck('value', 'setting');
    $get = static fn (string $key, string $default): string => isset($stored[$key]) && (string) $stored[$key] !== '' ? trim((string) $stored[$key]) : $default;
    return [
        'url' => rtrim($get('url', ''), '/'),
        'secret' => $get('secret', ''),
        'unreachable' => $get('unreachable', 'refuse') === 'allow' ? 'allow' : 'refuse',
    ];
}

/** promoset_call's outcome: the decoded reply, or why there is none (`error`), a sentence for the Activity Log. */
function promoset_call(array $settings, array $payload): array
{
    if ($settings['url'] === '' || $settings['secret'] === '') {
        return ['ok' => false, 'error' => 'the promoset URL or the shared secret is not set in the promoset addon settings'];
    }
    $body = json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    $t = time();
    $headers = [
        'Content-Type: application/json',
        'Accept: application/json',
        'Promoset-Signature: t=' . $t . ',v1=' . hash_hmac('sha256', $t . '.' . $body, $settings['secret']),
    ];
    $url = $settings['url'] . '/whmcs/hooks';
    [$status, $text, $error] = function_exists('curl_init') ? promoset_post_curl($url, $headers, $body) : promoset_post_stream($url, $headers, $body);
    if ($status === 0) {
        return ['ok' => false, 'error' => 'promoset at ' . $settings['url'] . ' could not be reached (' . $error . ')'];
    }
    $reply = json_decode((string) $text, true);
    if ($status < 200 || $status >= 300 || !is_array($reply)) {
        $message = is_array($reply) && isset($reply['message']) ? $reply['message'] : 'HTTP ' . $status;
        return ['ok' => false, 'error' => 'promoset refused the call: ' . $message];
    }
    return ['ok' => true, 'reply' => $reply];
}

/** @return array{0:int,1:string,2:string} status (0 when nothing came back), body, error */
function promoset_post_curl(string $url, array $headers, string $body): array
{
    $ch = curl_init($url);
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_CONNECTTIMEOUT => PROMOSET_TIMEOUT_SECONDS,
        CURLOPT_TIMEOUT => PROMOSET_TIMEOUT_SECONDS,
    ]);
    $text = curl_exec($ch);
    $status = $text === false ? 0 : (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    $error = $text === false ? curl_error($ch) : '';
    curl_close($ch);
    return [$status, $text === false ? '' : (string) $text, $error];
}

/** The same without the curl extension (PHP's own HTTP stream wrapper). */
function promoset_post_stream(string $url, array $headers, string $body): array
{
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => implode("\r\n", $headers),
        'content' => $body,
        'timeout' => PROMOSET_TIMEOUT_SECONDS,
        'ignore_errors' => true,
    ]]);
    $text = @file_get_contents($url, false, $context);
    $status = 0;
    // PHP 8.4 replaced $http_response_header with http_get_last_response_headers().
    $responseHeaders = function_exists('http_get_last_response_headers') ? (http_get_last_response_headers() ?? []) : ($http_response_header ?? []);
    foreach ($responseHeaders as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
            $status = (int) $m[1];
        }
    }
    $error = $text === false ? (error_get_last()['message'] ?? 'no answer') : '';
    return [$status, $text === false ? '' : $text, $error];
}

/** An order's promo codes: WHMCS stores the one it applied in tblorders.promocode; customised carts may list several. */
function promoset_order(int $orderId): array
{
    $order = Capsule::table('tblorders')->where('id', $orderId)->first();
    if (!$order) {
        return ['codes' => [], 'client_id' => null, 'invoice_id' => null];
    }
    $order = (array) $order;
    $codes = array_values(array_filter(array_map('trim', preg_split('/[\s,]+/', (string) ($order['promocode'] ?? '')))));
    return [
        'codes' => $codes,
        'client_id' => isset($order['userid']) && (int) $order['userid'] > 0 ? (int) $order['userid'] : null,
        'invoice_id' => isset($order['invoiceid']) && (int) $order['invoiceid'] > 0 ? (int) $order['invoiceid'] : null,
    ];
}

function promoset_client_email(?int $clientId): ?string
{
    if (!$clientId) {
        return null;
    }
    try {
        $email = Capsule::table('tblclients')->where('id', $clientId)->value('email');
    } catch (\Throwable $e) {
        return null;
    }
    return $email ? (string) $email : null;
}
