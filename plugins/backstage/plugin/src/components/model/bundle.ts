import type { LineageQuery } from '../../generated/graphql';

/**
 * The audit bundle (`mlmeta-lineage-bundle/1`), built from a `Lineage` answer exactly
 * as `mlmeta lineage export --format json` builds it (gateway/lineage_bundle.py), so
 * `mlmeta lineage verify <file>` checks a bundle downloaded from the portal.
 */
export const BUNDLE_FORMAT = 'mlmeta-lineage-bundle/1';

export interface BundleQuery {
  of: string;
  direction: string;
  depth: number;
  asOf: string;
  nodeBudget: number;
}

/** A global id's lineage key, "<Type>:<natural key>" (ids are base64url of it, unpadded). */
export function lineageKey(globalId: string): string {
  const base64 = globalId.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, c => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** An instant as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ`, as the CLI writes `exportedAt`. */
export function formatBundleInstant(date: Date): string {
  return date.toISOString();
}

type Lineage = NonNullable<LineageQuery['lineage']>;

export function makeBundle(gateway: string, query: BundleQuery, lineage: Lineage, now = new Date()) {
  const resolved = (lineage.nodes ?? []).flatMap(n => (n ? [{ ...n, key: lineageKey(n.id) }] : []));
  return {
    format: BUNDLE_FORMAT,
    exportedAt: formatBundleInstant(now),
    gateway,
    query,
    graph: {
      root: lineageKey(query.of),
      asOf: lineage.asOf,
      truncated: lineage.truncated,
      nodes: lineage.nodeIds.map(lineageKey),
      edges: lineage.edges.map(e => ({
        from: lineageKey(e.from),
        to: lineageKey(e.to),
        kind: e.kind,
        recordedAt: e.recordedAt,
        retiredAt: e.retiredAt,
        origin: e.origin,
      })),
    },
    digest: lineage.digest,
    cards: resolved.flatMap(n =>
      n.__typename === 'ModelCard'
        ? [
            {
              key: n.key,
              source: n.source,
              revision: n.revision,
              status: n.cardStatus,
              updatedAt: n.updatedAt,
              updatedBy: n.updatedBy,
              markdown: n.markdown,
            },
          ]
        : [],
    ),
    approvals: resolved.flatMap(n =>
      n.__typename === 'ModelVersion'
        ? [{ id: n.id, key: n.key, version: n.version, status: n.versionStatus, approval: n.approval }]
        : [],
    ),
    openLineage: lineage.openLineage,
  };
}

/** Save `content` as a file through the browser. */
export function download(filename: string, content: string, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}
