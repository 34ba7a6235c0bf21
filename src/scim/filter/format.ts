/**
 * Prints a filter back as RFC 7644 §3.4.2.2 text that `parseFilter` reads as the same tree: parentheses only
 * where precedence (`not` > `and` > `or`, left-associative) would otherwise regroup it.
 */
import type { AttributePath, CompareValue, Filter } from './ast';

export function formatFilter(filter: Filter): string {
  switch (filter.op) {
    case 'and':
    case 'or': {
      const strength = precedence(filter);
      const left = formatFilter(filter.left);
      const right = formatFilter(filter.right);
      return `${precedence(filter.left) < strength ? `(${left})` : left} ${filter.op} ${precedence(filter.right) <= strength ? `(${right})` : right}`;
    }
    case 'not':
      return `not (${formatFilter(filter.filter)})`;
    case 'valuePath':
      return `${formatAttributePath(filter.path)}[${formatFilter(filter.filter)}]`;
    case 'pr':
      return `${formatTarget(filter.path, filter.where)} pr`;
    default:
      return `${formatTarget(filter.path, filter.where)} ${filter.op} ${formatValue(filter.value)}`;
  }
}

function formatAttributePath(path: AttributePath): string {
  const schema = path.schema !== undefined ? `${path.schema}:` : '';
  const sub = path.subAttribute !== undefined ? `.${path.subAttribute}` : '';
  return `${schema}${path.attribute}${sub}`;
}

/** `emails[type eq "work"].value`: the bracket sits between the attribute and its sub-attribute. */
function formatTarget(path: AttributePath, where: Filter | undefined): string {
  if (!where) return formatAttributePath(path);
  const { subAttribute, ...attribute } = path;
  const sub = subAttribute !== undefined ? `.${subAttribute}` : '';
  return `${formatAttributePath(attribute)}[${formatFilter(where)}]${sub}`;
}

function formatValue(value: CompareValue): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  return JSON.stringify(value);
}

function precedence(filter: Filter): number {
  return filter.op === 'or' ? 1 : filter.op === 'and' ? 2 : 3;
}
