import { formatInstant } from './format';

/**
 * An instant for a table cell: the date, then the time on its own line (never broken
 * inside either), so that date columns stay narrow in wide tables.
 */
export function Instant({ value }: { value: string | number | null | undefined }) {
  const text = formatInstant(value);
  const space = text.indexOf(' ');
  if (space < 0) return <span style={{ whiteSpace: 'nowrap' }}>{text}</span>;
  return (
    <>
      <span style={{ whiteSpace: 'nowrap' }}>{text.slice(0, space)}</span>{' '}
      <span style={{ whiteSpace: 'nowrap' }}>{text.slice(space + 1)}</span>
    </>
  );
}
