// @jsxRuntime automatic
/**
 * A modal dialog: focus moves in and stays in (Tab wraps), Escape cancels, the
 * rest of the page is inert while it is open, and focus returns where it was.
 */
import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Dialog(props: { title: string; children: ReactNode; onCancel: () => void }) {
  const { onCancel } = props;
  const titleId = useId();
  const ref = useRef<HTMLDivElement>(null);
  const host = useRef<HTMLDivElement | null>(null);
  if (host.current === null && typeof document !== 'undefined') host.current = document.createElement('div');

  useEffect(() => {
    const container = host.current!;
    const previous = document.activeElement as HTMLElement | null;
    document.body.appendChild(container);
    const siblings = [...document.body.children].filter(
      (el): el is HTMLElement => el !== container && el instanceof HTMLElement && !el.inert,
    );
    for (const el of siblings) el.inert = true;
    const first = ref.current?.querySelector<HTMLElement>('[data-autofocus]') ?? ref.current?.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    return () => {
      for (const el of siblings) el.inert = false;
      container.remove();
      if (previous?.isConnected) previous.focus();
    };
  }, []);

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === 'Escape') {
      event.stopPropagation();
      onCancel();
      return;
    }
    if (event.key !== 'Tab' || !ref.current) return;
    const focusable = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    if (focusable.length === 0) return;
    const first = focusable[0]!;
    const last = focusable[focusable.length - 1]!;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  if (!host.current) return null;
  return createPortal(
    <div className="dialog-backdrop">
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={ref} onKeyDown={onKeyDown}>
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
      </div>
    </div>,
    host.current,
  );
}
