/**
 * The scheduling both group commits share (single codes in single-codes.ts,
 * redemptions in shared-transactions.ts): members that arrive while a group is
 * being written wait, and the next group is taken at the end of the event-loop
 * turn, so requests whose sockets were readable together join one transaction
 * (on SQLite each write is synchronous, so without this wait nothing would
 * ever be in flight to join). One group in flight per queue: SQLite has one
 * writer anyway, and on PostgreSQL two or three groups in flight measured no
 * faster than one (bench/http.ts), only with smaller groups.
 *
 * `overlap` (PostgreSQL): once a group is written, the members that waited
 * meanwhile are sent at once, and the written group's members are settled
 * (their replies built and sent) in the next turn, while the database works
 * on the new group. Settled first, as on SQLite, the replies and the next
 * round trip took turns: at 50 connections a group's cycle was its round
 * trip plus the replies' CPU, and the requests waited for both.
 */

/**
 * Writes one group; it must not reject. It resolves once the group is
 * written (committed, or failed as a whole), with what settles the members:
 * nothing is settled before that, so nobody hears of a write before COMMIT.
 */
export type GroupCommit<Member> = (group: Member[]) => Promise<Settle>;
export type Settle = () => void;

export class GroupQueue<Member> {
  private readonly waiting: Member[] = [];
  /** A group is about to be taken from `waiting`. */
  private scheduled = false;
  /** A group is being written. */
  private writing = false;

  constructor(
    private readonly maxGroup: number,
    private readonly commit: GroupCommit<Member>,
    private readonly overlap = false,
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
      this.take();
    });
  }

  private take(): void {
    this.writing = true;
    void this.commit(this.waiting.splice(0, this.maxGroup)).then((settle) => {
      this.writing = false;
      if (this.overlap && this.waiting.length > 0) {
        // The waiting members go now; the written ones are settled after this turn, once the new
        // group's statement has been sent (the pool hands out its connection on the next tick).
        this.take();
        setImmediate(settle);
        return;
      }
      settle();
      this.schedule();
    });
  }
}
