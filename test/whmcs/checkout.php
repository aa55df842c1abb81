<?php
// WHMCS's checkout rules for a promotion code, applied to the row as WHMCS would read it
// (PDO MySQL, WHMCS's sql_mode). Usage: php checkout.php <mysql-url> <code> <today YYYY-MM-DD>
// Prints one JSON object: {"accepted":bool,"failed":[rule…],"id":…,"upgradeconfig":…}.
[$script, $url, $code, $today] = $argv;
$u = parse_url($url);
$dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8', $u['host'], $u['port'] ?? 3306, ltrim($u['path'], '/'));
$pdo = new PDO($dsn, urldecode($u['user'] ?? 'root'), urldecode($u['pass'] ?? ''), [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$pdo->exec("SET SESSION sql_mode = ''");
// The table's collation (utf8_unicode_ci) makes this comparison ignore case, as WHMCS's lookup does.
$stmt = $pdo->prepare('SELECT * FROM tblpromotions WHERE code = ? ORDER BY id LIMIT 1');
$stmt->execute([$code]);
$row = $stmt->fetch(PDO::FETCH_ASSOC);
if ($row === false) {
    echo json_encode(['accepted' => false, 'failed' => ['code_not_found']]), "\n";
    exit(0);
}
$failed = [];
if ($row['startdate'] !== '0000-00-00' && $row['startdate'] > $today) $failed[] = 'not_started';
if ($row['expirationdate'] !== null && $row['expirationdate'] !== '0000-00-00' && $row['expirationdate'] < $today) $failed[] = 'expired';
if ((int)$row['maxuses'] !== 0 && (int)$row['maxuses'] <= (int)$row['uses']) $failed[] = 'used_up';
$upgrade = @unserialize($row['upgradeconfig']);
if (!is_array($upgrade)) $failed[] = 'upgradeconfig_not_array';
echo json_encode([
    'accepted' => count($failed) === 0,
    'failed' => $failed,
    'id' => (int)$row['id'],
    'code' => $row['code'],
    'value' => $row['value'],
    'upgradeconfig' => $upgrade,
]), "\n";
