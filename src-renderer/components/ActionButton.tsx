// @jsxRuntime automatic
/**
 * A button that keeps keyboard focus while it cannot act (a request running,
 * nothing to do): `aria-disabled` instead of `disabled`, which would drop
 * focus to the page, and a press then does nothing. `busy` also marks it
 * `aria-busy` for whoever asks.
 */
import type { ButtonHTMLAttributes } from 'react';

export interface ActionButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'disabled'> {
  /** Cannot act right now (a press does nothing). */
  unavailable?: boolean;
  busy?: boolean;
}

export function ActionButton(props: ActionButtonProps) {
  const { unavailable = false, busy = false, onClick, type = 'button', ...rest } = props;
  const inert = unavailable || busy;
  return (
    <button
      {...rest}
      type={type}
      aria-disabled={inert || undefined}
      aria-busy={busy || undefined}
      onClick={(event) => {
        if (inert) {
          event.preventDefault();
          return;
        }
        onClick?.(event);
      }}
    />
  );
}
