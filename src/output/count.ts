// Integers with thousands separators (1234567 -> '1,234,567'), as toLocaleString('en-US') prints
// them, without ICU: the first toLocaleString call loads ICU's number formatting, 20-30 ms of every
// run's start-up (measured on the 2-core VM).
export function formatCount(v: number): string {
  if (!Number.isSafeInteger(v)) return v.toLocaleString('en-US')
  const digits = String(Math.abs(v))
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1)
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`
  return v < 0 ? `-${out}` : out
}
