/**
 * The scheduling both group commits share (single codes in single-codes.ts,
 * redemptions in shared-transactions.ts): members that arrive while a group is
 * being written wait, and the next group is taken at the end of the event-loop
 * turn, so requests whose sockets were readable together join one transaction
 * (on SQLite each write is synchronous, so without this wait nothing would
 * ever be in flight to join). One group in flight per queue: SQLite has one
 * writer anyway, and on PostgreSQL two or three groups in flight measured no
 * faster than one (bench/http.ts), only with smaller groups.
 */
export class GroupQueue<Member> {
  private readonly waiting: Member[] = [];
  /** A group is about to be taken from `waiting`. */
  private scheduled = false;
  /** A group is being written. */
  private writing = false;

  /** `commit` writes one group and settles every member itself; it must not reject. */
  constructor(
    private readonly maxGroup: number,
    private readonly commit: (group: Member[]) => Promise<void>,
  ) {}

  push(member: Member): void {
    this.waiting.push(member);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.writing = true;
      void this.commit(this.waiting.splice(0, this.maxGroup)).finally(() => {
        this.writing = false;
        this.schedule();
      });
    });
  }
}
