import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  classifyError,
  detectLanguage,
  type ErrorCategory,
  type ErrorLanguage,
} from '../../src/classify/error-classifier.js';

interface CorpusEntry {
  language: Exclude<ErrorLanguage, 'unknown'>;
  category: ErrorCategory;
  type?: string;
  message: string;
  dependency?: { host?: string; port?: number };
}

const corpus: CorpusEntry[] = JSON.parse(
  readFileSync(new URL('../fixtures/errors/corpus.json', import.meta.url), 'utf8'),
).errors;

describe('the application error classifier over a corpus of real-world exceptions', () => {
  const results = corpus.map((entry) => ({ entry, got: classifyError({ type: entry.type, message: entry.message }) }));

  it('holds at least 60 messages across Python, JavaScript, Go and Java', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    for (const language of ['python', 'javascript', 'go', 'java'] as const)
      expect(corpus.filter((e) => e.language === language).length).toBeGreaterThanOrEqual(15);
  });

  it('classifies at least 95% of them as a human would, and reports its accuracy per language', () => {
    const wrong = results.filter((r) => r.got.category !== r.entry.category);
    const lines = (['python', 'javascript', 'go', 'java'] as const).map((language) => {
      const mine = results.filter((r) => r.entry.language === language);
      const right = mine.filter((r) => r.got.category === r.entry.category).length;
      return `${language}: ${right}/${mine.length} (${((100 * right) / mine.length).toFixed(1)}%)`;
    });
    const accuracy = (results.length - wrong.length) / results.length;
    console.log(
      `classifier accuracy ${(accuracy * 100).toFixed(1)}% over ${results.length} errors; ${lines.join(', ')}`,
    );
    for (const w of wrong)
      console.log(
        `  expected ${w.entry.category}, got ${w.got.category} (${w.got.reason}): ${w.entry.type ?? ''} ${w.entry.message.split('\n')[0]}`,
      );
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
  });

  it('never calls a security error anything else, so nothing auto-heals a security issue', () => {
    for (const r of results.filter((r) => r.entry.category === 'security'))
      expect(r.got.category, r.entry.message).toBe('security');
  });

  it('names the host and port of the dependency an infrastructure error could not reach', () => {
    for (const { entry, got } of results.filter((r) => r.entry.dependency)) {
      expect(got.dependency, entry.message).toMatchObject(entry.dependency!);
    }
  });

  it('recognises the language of typed exceptions without a platform hint', () => {
    const typed = results.filter((r) => r.entry.type && r.entry.type.includes('.'));
    const right = typed.filter(
      (r) => detectLanguage({ type: r.entry.type, message: r.entry.message }) === r.entry.language,
    ).length;
    expect(right / typed.length).toBeGreaterThanOrEqual(0.9);
  });

  it('is more sure when the exception type names the failure than when only the message hints at it', () => {
    const typed = classifyError({
      type: 'ModuleNotFoundError',
      message: "No module named 'requests'",
      platform: 'python',
    });
    const phrase = classifyError({ message: 'the upstream request timed out' });
    expect(typed).toMatchObject({ category: 'import_error', language: 'python' });
    expect(typed.confidence).toBeGreaterThanOrEqual(0.85);
    expect(phrase.category).toBe('timeout');
    expect(phrase.confidence).toBeLessThan(0.85);
  });

  it('trusts a pattern less when it was written for another language than the platform says', () => {
    const got = classifyError({ type: 'Error', message: 'NoneType has no attribute x', platform: 'node' });
    expect(got.category).toBe('null_reference');
    expect(got.confidence).toBeLessThan(0.85);
  });

  it('leaves what it does not recognise unknown, with low confidence', () => {
    expect(classifyError({ message: 'the widget frobnicated' })).toMatchObject({
      category: 'unknown',
      language: 'unknown',
    });
  });
});
