/** What happened to each concept, as written into the stats JSON. */
export interface ConceptSummary {
  status: 'ok' | 'failed' | 'dropped';
  /** Raw phrases the backend gave. */
  raw: number;
  /** Phrases written (after clean-up and swap). */
  kept: number;
  droppedWithoutConcept: number;
  droppedEmpty: number;
  droppedDuplicate: number;
  droppedTooLong: number;
  /** Why a concept failed (scrubbed) or was dropped. */
  reason?: string;
}

export function failedSummary(reason: string): ConceptSummary {
  return { status: 'failed', raw: 0, kept: 0, droppedWithoutConcept: 0, droppedEmpty: 0, droppedDuplicate: 0, droppedTooLong: 0, reason };
}
