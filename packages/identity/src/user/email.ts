/**
 * The form of an e-mail address that uniqueness is decided on: trimmed, Unicode NFKC (so look-alike
 * compatibility characters fold together), lower case. Dots and `+tags` are kept: whether they matter
 * is the mail provider's business, not ours.
 */
export function normalizeEmail(email: string): string {
  return email.trim().normalize('NFKC').toLowerCase();
}
