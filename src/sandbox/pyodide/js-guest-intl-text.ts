// `Intl`'s text formats for the JavaScript guest, inside js-guest-intl.ts's library (its helpers `localeOf`,
// `options`, `pick` and `NumberFormat` in scope): `Collator` (punctuation and spaces before digits before
// letters, then accents, then case with lower first, as ICU's root order; `numeric`, `sensitivity`,
// `caseFirst`, `ignorePunctuation`), `PluralRules` (English cardinal and ordinal), `ListFormat` and
// `RelativeTimeFormat` (English words). Part of the child: erasable syntax only.

/** Statements inside js-guest-intl.ts's library function: they define the four classes. */
export const INTL_TEXT_BODY = String.raw`
// Collation: punctuation and spaces before digits before letters; then accents, then case (lower first).
function weight(char) {
  if (/\s/.test(char)) return char.charCodeAt(0);
  if (/[0-9]/.test(char)) return 2e6 + char.charCodeAt(0);
  if (/\p{L}/u.test(char)) return 3e6 + char.codePointAt(0);
  return 1e6 + char.codePointAt(0);
}
const foldAccents = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
function compareWith(a, b, numeric, key) {
  const split = (text) => (numeric ? text.match(/\d+|\D+/g) || [] : [text]);
  const left = split(a), right = split(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i], y = right[i];
    if (numeric && /^\d/.test(x) && /^\d/.test(y)) {
      const u = x.replace(/^0+(?=\d)/, ""), v = y.replace(/^0+(?=\d)/, "");
      if (u.length !== v.length) return u.length < v.length ? -1 : 1;
      if (u !== v) return u < v ? -1 : 1;
      continue;
    }
    const xs = Array.from(x), ys = Array.from(y);
    for (let j = 0; j < Math.min(xs.length, ys.length); j++) {
      const d = key(xs[j]) - key(ys[j]);
      if (d) return d < 0 ? -1 : 1;
    }
    if (xs.length !== ys.length) return xs.length < ys.length ? -1 : 1;
  }
  return left.length === right.length ? 0 : left.length < right.length ? -1 : 1;
}
class Collator {
  constructor(locales, optionsArg) {
    const opts = options(optionsArg);
    this._ = {
      locale: localeOf(locales), usage: pick(opts, "usage", ["sort", "search"], "sort"),
      sensitivity: pick(opts, "sensitivity", ["base", "accent", "case", "variant"], "variant"),
      ignorePunctuation: Boolean(opts.ignorePunctuation), numeric: Boolean(opts.numeric),
      caseFirst: pick(opts, "caseFirst", ["upper", "lower", "false"], "false"),
    };
    const o = this._;
    this.compare = (a, b) => {
      let x = String(a), y = String(b);
      if (o.ignorePunctuation) {
        x = x.replace(/[\s\p{P}]/gu, "");
        y = y.replace(/[\s\p{P}]/gu, "");
      }
      const primary = compareWith(foldAccents(x).toLowerCase(), foldAccents(y).toLowerCase(), o.numeric, weight);
      if (primary || o.sensitivity === "base") return primary;
      if (o.sensitivity !== "case") {
        const accents = compareWith(x.normalize("NFD").toLowerCase(), y.normalize("NFD").toLowerCase(), o.numeric, (c) => c.codePointAt(0));
        if (accents || o.sensitivity === "accent") return accents;
      }
      const upperFirst = o.caseFirst === "upper";
      return compareWith(foldAccents(x), foldAccents(y), o.numeric, (c) => {
        const upper = c !== c.toLowerCase();
        return upper === upperFirst ? 0 : 1;
      });
    };
  }
  static supportedLocalesOf(locales) { return locales === undefined ? [] : [localeOf(locales)]; }
  resolvedOptions() { return Object.assign({}, this._, { collation: "default" }); }
}

class PluralRules {
  constructor(locales, optionsArg) {
    const opts = options(optionsArg);
    this._ = { locale: localeOf(locales), type: pick(opts, "type", ["cardinal", "ordinal"], "cardinal") };
    this._format = new NumberFormat("en", { minimumFractionDigits: opts.minimumFractionDigits, maximumFractionDigits: opts.maximumFractionDigits });
  }
  select(value) {
    const n = Number(value);
    if (this._.type === "ordinal") {
      const ten = n % 10, hundred = n % 100;
      return ten === 1 && hundred !== 11 ? "one" : ten === 2 && hundred !== 12 ? "two" : ten === 3 && hundred !== 13 ? "few" : "other";
    }
    return this._format.format(Math.abs(n)) === "1" ? "one" : "other";
  }
  resolvedOptions() { return Object.assign({ pluralCategories: this._.type === "ordinal" ? ["few", "one", "two", "other"] : ["one", "other"] }, this._); }
}

class ListFormat {
  constructor(locales, optionsArg) {
    const opts = options(optionsArg);
    this._ = { locale: localeOf(locales), type: pick(opts, "type", ["conjunction", "disjunction", "unit"], "conjunction"), style: pick(opts, "style", ["long", "short", "narrow"], "long") };
  }
  format(list) {
    const items = Array.from(list === undefined ? [] : list, (item) => {
      if (typeof item !== "string") throw new TypeError("Iterable yielded " + String(item) + " which is not a string");
      return item;
    });
    const { type, style } = this._;
    const word = type === "disjunction" ? "or" : type === "unit" ? "" : style === "long" ? "and" : style === "short" ? "&" : "";
    if (items.length < 2) return items.join("");
    if (items.length === 2) return word ? items[0] + " " + word + " " + items[1] : items.join(type === "unit" && style === "narrow" ? " " : ", ");
    const head = items.slice(0, -1).join(type === "unit" && style === "narrow" ? " " : ", ");
    const tail = items[items.length - 1];
    return word ? head + ", " + word + " " + tail : head + (type === "unit" && style === "narrow" ? " " : ", ") + tail;
  }
  resolvedOptions() { return Object.assign({}, this._); }
}

const RELATIVE_UNITS = { second: ["second", "sec."], minute: ["minute", "min."], hour: ["hour", "hr."], day: ["day", "day"], week: ["week", "wk."], month: ["month", "mo."], quarter: ["quarter", "qtr."], year: ["year", "yr."] };
const RELATIVE_WORDS = { day: ["yesterday", "today", "tomorrow"], year: ["last year", "this year", "next year"], month: ["last month", "this month", "next month"], week: ["last week", "this week", "next week"], quarter: ["last quarter", "this quarter", "next quarter"], hour: [null, "this hour", null], minute: [null, "this minute", null], second: [null, "now", null] };
class RelativeTimeFormat {
  constructor(locales, optionsArg) {
    const opts = options(optionsArg);
    this._ = { locale: localeOf(locales), numeric: pick(opts, "numeric", ["always", "auto"], "always"), style: pick(opts, "style", ["long", "short", "narrow"], "long") };
    this._number = new NumberFormat("en");
  }
  format(value, unitArg) {
    const n = Number(value);
    if (!isFinite(n)) throw new RangeError("Invalid value " + String(value));
    const unit = String(unitArg).replace(/s$/, "");
    if (!(unit in RELATIVE_UNITS)) throw new RangeError("Invalid unit argument for format() '" + String(unitArg) + "'");
    if (this._.numeric === "auto" && (n === -1 || n === 0 || n === 1) && !(Object.is(n, -0))) {
      const word = RELATIVE_WORDS[unit][n + 1];
      if (word) return word;
    }
    const count = this._number.format(Math.abs(n));
    const names = RELATIVE_UNITS[unit];
    const label = this._.style === "long" ? names[0] + (count === "1" ? "" : "s") : names[1] + (names[1] === "day" && count !== "1" ? "s" : "");
    return n < 0 || Object.is(n, -0) ? count + " " + label + " ago" : "in " + count + " " + label;
  }
  resolvedOptions() { return Object.assign({ numberingSystem: "latn" }, this._); }
}

`;
