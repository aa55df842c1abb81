/** How a batch's or a set's codes have been used: the counts behind every usage view. */
export interface Usage {
  issued: number;
  /** Uses counted (rolled-back redemptions excluded). */
  redeemed: number;
  voided: number;
  /** Promotions with a use limit that they have reached. */
  usedUp: number;
}

export const NO_USAGE: Usage = { issued: 0, redeemed: 0, voided: 0, usedUp: 0 };
