import { stringifyEntityRef } from '@backstage/catalog-model';
import { useEntity } from '@backstage/plugin-catalog-react';

/** The current entity page's ref, lower-case as mlmeta answers it ('component:default/x'). */
export function useEntityRef(): string {
  const { entity } = useEntity();
  return stringifyEntityRef(entity).toLowerCase();
}

/** An annotation of the current entity. */
export function useEntityAnnotation(key: string): string | undefined {
  const { entity } = useEntity();
  return entity.metadata.annotations?.[key];
}
