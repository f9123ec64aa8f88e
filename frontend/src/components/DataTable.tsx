/** The list table of the dashboard's pages: a caption for screen readers, column heads, the rows, and one
 * message row when there is nothing to list. The last column holds row actions unless `actions` is false. */
import type { ReactNode } from "react";

export function DataTable({
  caption,
  columns,
  empty,
  emptyText,
  actions = true,
  children,
}: {
  caption: string;
  columns: string[];
  /** True once loaded with no rows (undefined while loading: no message yet). */
  empty: boolean | undefined;
  emptyText: ReactNode;
  actions?: boolean;
  children: ReactNode;
}) {
  const width = columns.length + (actions ? 1 : 0);
  return (
    <table className="table">
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column} scope="col">
              {column}
            </th>
          ))}
          {actions ? (
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody>
        {empty ? (
          <tr>
            <td colSpan={width} className="empty">
              {emptyText}
            </td>
          </tr>
        ) : null}
        {children}
      </tbody>
    </table>
  );
}
