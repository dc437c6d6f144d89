/** The shapes every benchmark parser produces and the evaluation core consumes. */

export const DATASETS = ['cirr', 'circo', 'fashioniq'] as const;
export type Dataset = typeof DATASETS[number];

/** One composed-retrieval query, ids as the annotation file names them. */
export interface EvalQuery {
  /** CIRR pairid, CIRCO id, FashionIQ `<category>/<index>` */
  id: string;
  reference: string;
  /** one relative caption (CIRR, CIRCO) or two (FashionIQ) */
  captions: string[];
  /** ground truths, the target first; empty on test splits */
  targets: string[];
  /** CIRR: img_set.members, the subset for Recall_subset */
  subset?: string[];
  /** FashionIQ category; '' elsewhere. Each group is ranked against its own gallery. */
  group: string;
}

/** What a parser returns: the queries and, per group, the gallery's image names when the split lists them. */
export interface Annotations {
  dataset: Dataset;
  split: string;
  queries: EvalQuery[];
  /** group → image names of that group's gallery (CIRR and FashionIQ image_splits); absent: the whole index */
  galleries: Map<string, string[]>;
  /** files read, for the report */
  sources: string[];
}

/** One query after ranking, in gallery ids; what the metric functions read. */
export interface QueryOutcome {
  query: EvalQuery;
  /** top of the ranking, best first, reference excluded; empty when the query could not be formed */
  ranked: string[];
  /** targets[0] in the gallery, or undefined when absent (a miss) */
  target?: string;
  /** every ground truth, undefined where absent from the gallery */
  gts: (string | undefined)[];
  /** CIRR: subset members other than the reference, in ranking order */
  subsetRanked: string[];
}

export interface MetricResult {
  /** name → percent */
  metrics: Record<string, number>;
  curves: import('./metrics.ts').Curve[];
}
