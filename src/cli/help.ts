/** The CLI's help: the whole of it (`promoset --help`) and one command's (`promoset COMMAND --help`). */

export const HELP = `promoset: promotion codes from Slack and HTTP, in WHMCS's shapes.

Usage:
  promoset serve                      Start the HTTP server (and Slack, if configured)
  promoset migrate                    Bring the database schema up to date
  promoset sets create NAME [field=value ...]
  promoset sets update SET field=value ...   Change fields (e.g. webhook_url=https://…; webhook_url= removes it)
  promoset sets list [--all]          One line per set (--all includes archived)
  promoset sets show SET              A set's fields, URL and counts (SET is an id or a name)
  promoset sets rotate SET            New api_key: the old URL stops working at once
  promoset sets archive SET           Stop a set from issuing codes
  promoset sets audit SET             Who created, edited, rotated, archived it, and who generated codes from where
  promoset sets webhooks SET [--failed]          Recent webhook deliveries: status, attempts, last error, next attempt
  promoset sets webhooks SET resend EVENT_ID     Send one event again now
  promoset sets webhooks SET rotate-secret       New signing secret (printed once here)
  promoset codes SET --amount N [--csv FILE] [--prefix P] [--length L] [--type default|numeric|alphanumeric] [field=value ...]
  promoset codes SET ... --client-id ID | --client-email E | --clients FILE   Bind the codes to customers
  promoset codes for CUSTOMER         The codes bound to a customer (WHMCS client id or e-mail), newest first
  promoset codes void CODE... | --batch N     Switch codes off: validation and redemption refuse them
  promoset codes unvoid CODE... | --batch N   Restore voided codes
  promoset whmcs status               Which WHMCS this database is connected to, and whether WHMCS_DATABASE_URL matches
  promoset whmcs backfill             Write codes issued before the connection into WHMCS's tblpromotions
  promoset whmcs reconnect --yes      Switch this database to the WHMCS in WHMCS_DATABASE_URL (audited)
  promoset whmcs disconnect --yes     Stop using WHMCS (audited)
  promoset access list                Who may do what: grants, the default role, PROMO_ADMINS
  promoset access grant SUBJECT ROLE [SET ...]   SUBJECT: a Slack user id (U…) or user group id (S…); no SET: every set
  promoset access revoke SUBJECT [SET ...]
  promoset access default-role ROLE   The role of everyone without a grant (viewer unless changed)
  promoset access limits ROLE [--set SET] per_request=N per_day=N max_percentage=N …   (none lifts a limit)
  promoset access audit               Grants, revokes and settings changes, newest first

Set fields are named as in the set's JSON (what GET {set URL} answers), e.g.
  promoset sets create spring promo_code_type="Fixed Amount" promo_value=25 cycles=Monthly,Annually expiration_date=2027-06-30
Code overrides for "codes": value=, promo_code_type=, start_date=, expiry_date=, notes=.

The database is DATABASE_URL (default ./data/promoset.db). "promoset COMMAND --help" shows one command's help.`;

export const COMMAND_HELP: Record<string, string> = {
  whmcs: `promoset whmcs status | backfill | reconnect --yes | disconnect --yes

promoset's database records which WHMCS database it is connected to (the first process with
WHMCS_DATABASE_URL set records it). A process without a matching WHMCS_DATABASE_URL then refuses to
issue, redeem or void.
  status              the recorded connection, this process's WHMCS_DATABASE_URL, what is wrong, the history
  backfill            writes every promotion WHMCS does not hold yet into tblpromotions (resumable: run it
                      again after an interruption); codes WHMCS already holds are reported and their
                      promotions take that row's id. Progress goes to stderr.
  reconnect --yes     records WHMCS_DATABASE_URL's database as the one; forgets the old tblpromotions ids
                      (run backfill afterwards)
  disconnect --yes    promoset stops writing to WHMCS; every promotion shows promoset's own id again`,
  serve: 'promoset serve\n\nStarts the HTTP server on PORT (default 3000); Slack runs too when its tokens are set. See README "Configuration".',
  migrate: 'promoset migrate\n\nApplies pending database migrations (also done at every start) and lists what ran.',
  sets: HELP.split('\n').filter((l) => l.includes('promoset sets')).join('\n'),
  access: HELP.split('\n').filter((l) => l.includes('promoset access')).join('\n'),
  codes: `promoset codes SET --amount N [options] [field=value ...]

Generates N codes (1 to 100,000) from SET, all in one transaction.
  --amount N      how many (default 10)
  --csv FILE      write them as CSV to FILE (otherwise codes are printed, one a line)
  --prefix P      code prefix, joined with "-" (default: the set's)
  --length L      random-part length, 3 to 30 (default: the set's)
  --type T        default | numeric | alphanumeric (default: the set's)
  field=value     value=, promo_code_type=, start_date=, expiry_date=, notes=
  --client-id ID        bind every code to this WHMCS client id: only that customer can redeem them
  --client-email E      bind every code to this customer e-mail (compared ignoring case)
  --clients FILE        one code per customer: a CSV file (header client_id and/or client_email,
                        or one id or e-mail a line) or a JSON array of {client_id, client_email};
                        the amount is the number of customers
Example: promoset codes spring --amount 100000 --csv spring.csv
Example: promoset codes apology --clients customers.csv --csv apology.csv

promoset codes for CUSTOMER             the codes bound to a customer: promoset codes for ann@example.com, promoset codes for 42

promoset codes void CODE [CODE ...]     void codes (any letter case); all must exist, or nothing changes
promoset codes void --batch N           void every code of batch N, in one statement
promoset codes unvoid CODE [...] | --batch N   restore them
Voiding twice is harmless. Every void and unvoid is in the set's audit trail (promoset sets audit SET).`,
};
