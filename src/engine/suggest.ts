/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** Up to three known names closest to `name` (prefix matches first). */
export function closestNames(name: string, known: readonly string[]): string[] {
  const lower = name.toLowerCase();
  return known
    .map((k) => ({
      k,
      d: k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase()) ? 0 : distance(lower, k.toLowerCase()),
    }))
    .filter(({ k, d }) => d <= Math.max(2, Math.floor(k.length / 2)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ k }) => k);
}
