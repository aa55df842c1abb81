<?php
/**
 * A stand-in for WHMCS, just enough to run the real addon hooks.php:
 * add_hook, logActivity, and WHMCS\Database\Capsule (a small query builder
 * over PDO on the WHMCS test database: tbladdonmodules, tblorders, tblclients).
 *
 * Usage: php harness.php <mysql-url> <hook name> <vars JSON> [session JSON]
 * Prints one JSON object: {"returns":[each hook function's return value],"log":[logActivity messages]}.
 */

namespace WHMCS\Database {
    final class Capsule
    {
        public static ?\PDO $pdo = null;

        public static function table(string $name): Query
        {
            return new Query(self::$pdo, $name);
        }
    }

    final class Query
    {
        private array $wheres = [];

        public function __construct(private \PDO $pdo, private string $table)
        {
            self::identifier($table);
        }

        private static function identifier(string $name): string
        {
            if (!preg_match('/^[A-Za-z_][A-Za-z0-9_]*$/', $name)) {
                throw new \InvalidArgumentException("not an identifier: $name");
            }
            return '`' . $name . '`';
        }

        public function where(string $column, mixed $operatorOrValue, mixed $value = null): self
        {
            [$operator, $value] = func_num_args() === 2 ? ['=', $operatorOrValue] : [$operatorOrValue, $value];
            if (!in_array($operator, ['=', '<', '>', '<=', '>=', '<>'], true)) {
                throw new \InvalidArgumentException("operator $operator");
            }
            $this->wheres[] = [self::identifier($column), $operator, $value];
            return $this;
        }

        /** @return array<int, array<string, mixed>> */
        private function rows(string $columns = '*'): array
        {
            $sql = "SELECT $columns FROM " . self::identifier($this->table);
            $values = [];
            if ($this->wheres) {
                $sql .= ' WHERE ' . implode(' AND ', array_map(static fn ($w) => "$w[0] $w[1] ?", $this->wheres));
                $values = array_map(static fn ($w) => $w[2], $this->wheres);
            }
            $stmt = $this->pdo->prepare($sql);
            $stmt->execute($values);
            return $stmt->fetchAll(\PDO::FETCH_ASSOC);
        }

        public function get(): array
        {
            return array_map(static fn ($row) => (object) $row, $this->rows());
        }

        public function first(): ?object
        {
            $rows = $this->rows();
            return $rows ? (object) $rows[0] : null;
        }

        public function value(string $column): mixed
        {
            $rows = $this->rows(self::identifier($column));
            return $rows ? array_values($rows[0])[0] : null;
        }

        /** Like Laravel's pluck: an ArrayAccess of key => value (WHMCS hands back a Collection). */
        public function pluck(string $value, ?string $key = null): \ArrayObject
        {
            $out = [];
            foreach ($this->rows() as $row) {
                if ($key === null) {
                    $out[] = $row[$value];
                } else {
                    $out[$row[$key]] = $row[$value];
                }
            }
            return new \ArrayObject($out);
        }
    }
}

namespace {
    define('WHMCS', true);

    [$script, $url, $hookName, $varsJson] = $argv;
    $session = json_decode($argv[4] ?? '{}', true) ?: [];
    $_SESSION = $session;

    $u = parse_url($url);
    $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8', $u['host'], $u['port'] ?? 3306, ltrim($u['path'], '/'));
    $pdo = new PDO($dsn, urldecode($u['user'] ?? 'root'), urldecode($u['pass'] ?? ''), [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    $pdo->exec("SET SESSION sql_mode = ''");
    \WHMCS\Database\Capsule::$pdo = $pdo;

    $hooks = [];
    $log = [];
    function add_hook(string $name, int $priority, callable $fn): void
    {
        $GLOBALS['hooks'][$name][] = [$priority, $fn];
    }
    function logActivity(string $message, int $userId = 0): void
    {
        $GLOBALS['log'][] = $message;
    }

    require __DIR__ . '/../../../integrations/whmcs/modules/addons/promoset/hooks.php';

    $vars = json_decode($varsJson, true, 512, JSON_THROW_ON_ERROR);
    $registered = $hooks[$hookName] ?? [];
    usort($registered, static fn ($a, $b) => $a[0] <=> $b[0]);
    $returns = [];
    foreach ($registered as [, $fn]) {
        $returns[] = $fn($vars);
    }
    echo json_encode(['returns' => $returns, 'log' => $log, 'hooks' => array_keys($hooks)]), "\n";
}
