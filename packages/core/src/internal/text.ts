/**
 * Server text in one-line messages, events and logs: whatever a server sends
 * cannot forge log lines or flood a terminal.
 * @internal
 */
// eslint-disable-next-line no-control-regex
export const oneLine = (text: string): string => text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim()

/** @internal */
export const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text)

/** @internal */
export const firstLine = (text: string): string => clip(oneLine(text.trim().split(/\r?\n/, 1)[0]!), 300)
