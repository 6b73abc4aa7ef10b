/** Where silences are created: Alertmanager's v2 API in production (src/silences/). */
export interface Silencer {
  /** Creates a silence for exactly these label matchers until `endsAt`; resolves with its id. */
  create(silence: {
    matchers: Record<string, string>;
    endsAt: Date;
    createdBy: string;
    comment: string;
  }): Promise<string>;
  expire(id: string): Promise<void>;
}

/** A silence healbot created for an incident's alert. */
export interface IncidentSilence {
  id: string;
  until: string;
  by: string;
  /** Set when someone expired it from chat. */
  expiredAt?: string;
  expiredBy?: string;
}

/** The silence lengths offered as buttons; `/heal silence` takes any duration up to the longest. */
export const SILENCE_CHOICES = ['1h', '4h', '24h'] as const;
export const LONGEST_SILENCE_MS = 24 * 3_600_000;
