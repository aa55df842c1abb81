import type { CodeAlphabet } from './codes.js';
import type { PromotionTerms } from './promotion.js';

/** A batch: the codes one request generated, with the terms they share. */
export interface Batch {
  id: number;
  set_id: number;
  kind: 'single' | 'bulk';
  count: number;
  code_prefix_key: string;
  code_length: number;
  code_alphabet: CodeAlphabet;
  created_by: string;
  created_at: string;
  terms: PromotionTerms;
  /** Uses counted across its promotions; filled in by listings that show it (else 0). */
  redeemed: number;
}

/** A code as stored: its id and its exact text. */
export interface IssuedCode {
  id: number;
  code: string;
}
