/**
 * HAProxy's word splitting, shared by config lines (server keywords, options) and
 * ACL expressions: blanks separate words, '…' and "…" quote, and a backslash makes
 * selected characters literal. The two callers differ only in which escapes they
 * take (config lines keep `\r\n` for later unescaping; ACLs take `\\` and `\#`).
 */
export interface SplitOptions {
  /** Characters a backslash makes literal outside quotes; any other `\x` stays as written. */
  escapes: string;
  /** Inside "…", a backslash makes any next character literal (else only `"` and `\`). */
  anyEscapeInDoubleQuotes: boolean;
  /** CR and LF separate words too. */
  lineBreaksAreBlanks: boolean;
}

export function splitHaproxyWords(text: string, opts: SplitOptions): { words: string[]; unterminatedQuote: boolean } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < text.length && (opts.anyEscapeInDoubleQuotes || text[i + 1] === '"' || text[i + 1] === '\\')) cur += text[++i];
      else cur += c;
      continue;
    }
    if (c === '\\' && i + 1 < text.length && opts.escapes.includes(text[i + 1])) {
      cur += text[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || (opts.lineBreaksAreBlanks && (c === '\n' || c === '\r'))) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return { words, unterminatedQuote: quote !== '' };
}
