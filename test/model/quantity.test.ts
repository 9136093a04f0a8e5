import { describe, expect, it } from 'vitest';
import { QuantityError, formatStorage, parseMessages, parseStorage } from '../../src/model/quantity.ts';

describe('storage quantities', () => {
  it.each([
    ['2Gi', 2 * 1024 ** 3],
    ['500Mi', 500 * 1024 ** 2],
    ['10G', 10 * 1000 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['1000', 1000],
    [4096, 4096],
    ['0', 0],
  ])('reads %s as %d bytes', (input, bytes) => {
    expect(parseStorage(input)).toBe(bytes);
  });

  it('keeps unlimited as unlimited', () => {
    expect(parseStorage('unlimited')).toBe('unlimited');
  });

  it.each(['2GB', '-1Gi', '1.5', 'lots', '1e3', 1.5, -3])('refuses %s with a message that shows how to write it', (input) => {
    expect(() => parseStorage(input as string)).toThrow(QuantityError);
  });

  it('writes sizes back the way a person would', () => {
    expect(formatStorage(2 * 1024 ** 3)).toBe('2Gi');
    expect(formatStorage(1536 * 1024 ** 2)).toBe('1536Mi');
    expect(formatStorage(1000)).toBe('1000');
    expect(formatStorage(null)).toBe('(unset)');
  });
});

describe('message counts', () => {
  it('reads numbers and unlimited', () => {
    expect(parseMessages(50000)).toBe(50000);
    expect(parseMessages('50000')).toBe(50000);
    expect(parseMessages('unlimited')).toBe('unlimited');
  });
  it.each(['10k', '-1', 'many'])('refuses %s', (input) => {
    expect(() => parseMessages(input)).toThrow(QuantityError);
  });
});
