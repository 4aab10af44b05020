// `Intl` for the JavaScript guest, numbers and text (js-guest-web.ts says why the guest has it; dates are
// js-guest-intl-date.ts): `NumberFormat` (decimal, percent, currency, unit; fraction and significant digits,
// grouping, compact/scientific/engineering notation, sign display, accounting, `formatToParts`),
// and (js-guest-intl-text.ts) `Collator`, `PluralRules`, `ListFormat` and `RelativeTimeFormat`, in English. Other
// locales get their digit separators and currency placement (German, French, Swedish...: "1.234,56 €"), not their
// words. Rounding works on the number's shortest decimal form, as ICU's does: 1.005 to two places is 1.01.
// Part of the child: erasable syntax only.
import { INTL_TEXT_BODY } from "./js-guest-intl-text.ts";

/**
 * A function expression's source; called with a function that loads the date formats (js-guest-intl-date.ts),
 * it returns `{ Intl }` and the helpers the date formats share.
 */
export const INTL_SOURCE = String.raw`(function (loadDates) {
"use strict";
const NBSP = "\u00a0", NNBSP = "\u202f";
function localeOf(locales) {
  const list = locales === undefined ? [] : typeof locales === "string" ? [locales] : Array.from(locales);
  for (const item of list) {
    const tag = String(item && typeof item === "object" && "baseName" in item ? item.baseName : item);
    if (!/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(tag)) throw new RangeError("Incorrect locale information provided");
    return tag.replace(/^[A-Za-z]+/, (l) => l.toLowerCase()).replace(/-([A-Za-z]{2})(?=-|$)/, (m, r) => "-" + r.toUpperCase());
  }
  return "en-US";
}
function symbolsOf(locale) {
  const language = locale.split("-")[0];
  if (locale === "de-CH") return { group: "\u2019", decimal: ".", suffix: false };
  if (["de", "es", "it", "nl", "pt", "id", "tr", "da", "el", "ro", "hr", "sl", "vi"].indexOf(language) >= 0) return { group: ".", decimal: ",", suffix: language !== "nl" };
  if (language === "fr") return { group: NNBSP, decimal: ",", suffix: true };
  if (["sv", "nb", "no", "fi", "cs", "pl", "ru", "uk", "sk", "hu", "bg", "lt", "lv", "et"].indexOf(language) >= 0) return { group: NBSP, decimal: ",", suffix: true };
  return { group: ",", decimal: ".", suffix: false };
}
function options(value) {
  if (value === undefined) return Object.create(null);
  if (value === null) throw new TypeError("Cannot convert null to object");
  return Object(value);
}
function pick(opts, name, allowed, fallback) {
  const value = opts[name];
  if (value === undefined) return fallback;
  const text = typeof value === "boolean" && allowed.indexOf(value) >= 0 ? value : String(value);
  if (allowed.indexOf(text) < 0) throw new RangeError("Value " + text + " out of range for Intl options property " + name);
  return text;
}
function digitsOption(opts, name, min, max, fallback) {
  const value = opts[name];
  if (value === undefined) return fallback;
  const number = Math.floor(Number(value));
  if (!(number >= min && number <= max)) throw new RangeError(name + " value is out of range.");
  return number;
}

// A finite magnitude as decimal digits and the position of the point: 1234.5 -> { digits: "12345", point: 4 }.
function decimalOf(value) {
  let text = typeof value === "bigint" ? String(value < 0n ? -value : value) : String(Math.abs(value));
  let exponent = 0;
  const e = text.indexOf("e");
  if (e >= 0) {
    exponent = Number(text.slice(e + 1));
    text = text.slice(0, e);
  }
  const dot = text.indexOf(".");
  let digits = dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1);
  let point = (dot < 0 ? text.length : dot) + exponent;
  const lead = /^0*/.exec(digits)[0].length;
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, "");
  return digits === "" ? { digits: "", point: 0 } : { digits, point };
}
// Keeps the first "keep" digits (half away from zero), then says how many: { digits, point }.
function roundTo(decimal, keep) {
  if (keep < 0) return { digits: "", point: 0 };
  if (decimal.digits.length <= keep) return decimal;
  let digits = decimal.digits.slice(0, keep);
  let point = decimal.point;
  if (decimal.digits.charCodeAt(keep) >= 53) {
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === "9") i--;
    if (i < 0) {
      digits = "1";
      point += 1;
    } else {
      digits = digits.slice(0, i) + String(Number(digits[i]) + 1);
    }
  }
  digits = digits.replace(/0+$/, "");
  return digits === "" ? { digits: "", point: 0 } : { digits, point };
}
// { integer, fraction } strings of a rounded decimal, padded to the minimum digits.
function digitStrings(decimal, minInteger, minFraction) {
  const { digits, point } = decimal;
  let integer = point > 0 ? digits.slice(0, point).padEnd(point, "0") : "";
  let fraction = point >= 0 ? digits.slice(point) : "0".repeat(-point) + digits;
  integer = integer.padStart(minInteger, "0");
  fraction = fraction.padEnd(minFraction, "0");
  return { integer, fraction };
}
function group(integer, separator, min) {
  if (!separator || integer.length < min) return integer;
  return integer.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
}

const CURRENCY_SYMBOLS = { USD: "$", EUR: "\u20ac", GBP: "\u00a3", JPY: "\u00a5", CNY: "CN\u00a5", INR: "\u20b9", CAD: "CA$", AUD: "A$", KRW: "\u20a9", BRL: "R$", MXN: "MX$", ILS: "\u20aa", NZD: "NZ$", HKD: "HK$", TWD: "NT$", VND: "\u20ab", PHP: "\u20b1" };
const CURRENCY_NAMES = { USD: ["US dollar", "US dollars"], EUR: ["euro", "euros"], GBP: ["British pound", "British pounds"], JPY: ["Japanese yen", "Japanese yen"], CAD: ["Canadian dollar", "Canadian dollars"], AUD: ["Australian dollar", "Australian dollars"], CHF: ["Swiss franc", "Swiss francs"], CNY: ["Chinese yuan", "Chinese yuan"], INR: ["Indian rupee", "Indian rupees"] };
const CURRENCY_DIGITS = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, UGX: 0, PYG: 0, XOF: 0, XAF: 0, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3, IQD: 3, LYD: 3 };
const UNITS = { percent: ["%", "%", "percent"], byte: ["byte", "B", "byte"], kilobyte: ["kB", "kB", "kilobyte"], megabyte: ["MB", "MB", "megabyte"], gigabyte: ["GB", "GB", "gigabyte"], terabyte: ["TB", "TB", "terabyte"], petabyte: ["PB", "PB", "petabyte"], bit: ["bit", "bit", "bit"], kilobit: ["kb", "kb", "kilobit"], megabit: ["Mb", "Mb", "megabit"], gigabit: ["Gb", "Gb", "gigabit"], millisecond: ["ms", "ms", "millisecond"], second: ["sec", "s", "second"], minute: ["min", "m", "minute"], hour: ["hr", "h", "hour"], day: ["day", "d", "day"], week: ["wk", "w", "week"], month: ["mth", "m", "month"], year: ["yr", "y", "year"], meter: ["m", "m", "meter"], kilometer: ["km", "km", "kilometer"], centimeter: ["cm", "cm", "centimeter"], millimeter: ["mm", "mm", "millimeter"], mile: ["mi", "mi", "mile"], foot: ["ft", "\u2032", "foot"], inch: ["in", "\u2033", "inch"], kilogram: ["kg", "kg", "kilogram"], gram: ["g", "g", "gram"], pound: ["lb", "lb", "pound"], ounce: ["oz", "oz", "ounce"], liter: ["L", "L", "liter"], milliliter: ["mL", "mL", "milliliter"], gallon: ["gal", "gal", "gallon"], celsius: ["\u00b0C", "\u00b0C", "degree Celsius"], fahrenheit: ["\u00b0F", "\u00b0", "degree Fahrenheit"], degree: ["deg", "\u00b0", "degree"] };
const PLURAL_UNITS = { foot: "feet", inch: "inches", "degree Celsius": "degrees Celsius", "degree Fahrenheit": "degrees Fahrenheit", day: "days", century: "centuries" };
const PER_UNITS = { hour: "h", second: "s", minute: "min", day: "d" };
function unitLabel(unit, display, plural) {
  const parts = unit.split("-per-");
  const labels = parts.map((part, i) => {
    const entry = UNITS[part];
    if (!entry) return part;
    if (display === "long") return i === 0 && plural ? PLURAL_UNITS[entry[2]] || entry[2] + "s" : entry[2];
    if (i > 0 && display !== "long" && part in PER_UNITS) return PER_UNITS[part];
    const short = display === "narrow" ? entry[1] : entry[0];
    return i === 0 && plural && display === "short" && (part === "day" || part === "byte") ? short + "s" : short;
  });
  return display === "long" ? labels.join(" per ") : labels.join("/");
}
const COMPACT = [[12, "T", "trillion"], [9, "B", "billion"], [6, "M", "million"], [3, "K", "thousand"]];

const formatters = new WeakMap();
class NumberFormat {
  constructor(locales, optionsArg) {
    const opts = options(optionsArg);
    const locale = localeOf(locales);
    const style = pick(opts, "style", ["decimal", "percent", "currency", "unit"], "decimal");
    let currency = opts.currency === undefined ? undefined : String(opts.currency).toUpperCase();
    if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) throw new RangeError("Invalid currency code : " + currency);
    if (style === "currency" && currency === undefined) throw new TypeError("Currency code is required with currency style.");
    const unit = opts.unit === undefined ? undefined : String(opts.unit);
    if (style === "unit" && unit === undefined) throw new TypeError("Unit is required with unit style.");
    const notation = pick(opts, "notation", ["standard", "scientific", "engineering", "compact"], "standard");
    const cDigits = currency in CURRENCY_DIGITS ? CURRENCY_DIGITS[currency] : 2;
    const defaultMin = style === "currency" && notation !== "compact" ? cDigits : 0;
    const defaultMax = style === "currency" && notation !== "compact" ? Math.max(defaultMin, cDigits) : style === "percent" ? 0 : notation === "compact" ? 0 : 3;
    let minFrac = digitsOption(opts, "minimumFractionDigits", 0, 100, undefined);
    let maxFrac = digitsOption(opts, "maximumFractionDigits", 0, 100, undefined);
    if (minFrac !== undefined && maxFrac !== undefined && maxFrac < minFrac) throw new RangeError("maximumFractionDigits value is out of range.");
    if (minFrac === undefined) minFrac = Math.min(defaultMin, maxFrac === undefined ? defaultMin : maxFrac);
    if (maxFrac === undefined) maxFrac = Math.max(defaultMax, minFrac);
    const minSig = digitsOption(opts, "minimumSignificantDigits", 1, 21, undefined);
    const maxSig = digitsOption(opts, "maximumSignificantDigits", 1, 21, undefined);
    const significant = minSig !== undefined || maxSig !== undefined;
    const useGrouping = opts.useGrouping === undefined ? (notation === "compact" ? "min2" : "auto")
      : opts.useGrouping === false || opts.useGrouping === "false" ? false : opts.useGrouping === true ? "always" : pick(opts, "useGrouping", ["always", "auto", "min2"], "auto");
    this._ = {
      locale, style, currency, unit, notation, significant, useGrouping,
      compactRounding: notation === "compact" && !significant && opts.minimumFractionDigits === undefined && opts.maximumFractionDigits === undefined,
      currencyDisplay: pick(opts, "currencyDisplay", ["symbol", "narrowSymbol", "code", "name"], "symbol"),
      currencySign: pick(opts, "currencySign", ["standard", "accounting"], "standard"),
      unitDisplay: pick(opts, "unitDisplay", ["short", "narrow", "long"], "short"),
      compactDisplay: pick(opts, "compactDisplay", ["short", "long"], "short"),
      signDisplay: pick(opts, "signDisplay", ["auto", "never", "always", "exceptZero", "negative"], "auto"),
      trailingZeroDisplay: pick(opts, "trailingZeroDisplay", ["auto", "stripIfInteger"], "auto"),
      minimumIntegerDigits: digitsOption(opts, "minimumIntegerDigits", 1, 21, 1),
      minimumFractionDigits: minFrac, maximumFractionDigits: maxFrac,
      minimumSignificantDigits: significant ? minSig || 1 : undefined,
      maximumSignificantDigits: significant ? maxSig || 21 : undefined,
      symbols: symbolsOf(locale),
    };
    if (significant && this._.maximumSignificantDigits < this._.minimumSignificantDigits) throw new RangeError("maximumSignificantDigits value is out of range.");
  }
  static supportedLocalesOf(locales) { return locales === undefined ? [] : [localeOf(locales)]; }
  get format() {
    if (!formatters.has(this)) formatters.set(this, (value) => this.formatToParts(value).map((part) => part.value).join(""));
    return formatters.get(this);
  }
  formatRange(start, end) { return this.format(start) + "\u2013" + this.format(end); }
  formatToParts(value) {
    const o = this._;
    const s = o.symbols;
    let x = typeof value === "bigint" ? value : Number(value);
    if (o.style === "percent" && typeof x === "number") x *= 100;
    else if (o.style === "percent") x *= 100n;
    const negative = typeof x === "bigint" ? x < 0n : x < 0 || Object.is(x, -0);
    const parts = [];
    let exponent = 0, compact = null, zero = false;
    if (typeof x === "number" && isNaN(x)) parts.push({ type: "nan", value: "NaN" });
    else if (typeof x === "number" && !isFinite(x)) parts.push({ type: "infinity", value: "\u221e" });
    else {
      let decimal = decimalOf(x);
      if (o.notation === "compact" && decimal.point > 3) {
        const entry = COMPACT.find(([power]) => decimal.point > power) || COMPACT[0];
        compact = entry;
        exponent = entry[0];
        decimal = { digits: decimal.digits, point: decimal.point - exponent };
      } else if ((o.notation === "scientific" || o.notation === "engineering") && decimal.digits) {
        exponent = decimal.point - 1;
        if (o.notation === "engineering") exponent -= ((exponent % 3) + 3) % 3;
        decimal = { digits: decimal.digits, point: decimal.point - exponent };
      }
      let minFrac = o.minimumFractionDigits;
      if (o.significant) {
        decimal = roundTo(decimal, o.maximumSignificantDigits);
        minFrac = Math.max(0, o.minimumSignificantDigits - Math.max(decimal.point, 0));
      } else if (o.compactRounding && decimal.point < 2) {
        decimal = roundTo(decimal, 2);
        minFrac = 0;
      } else {
        decimal = roundTo(decimal, decimal.point + o.maximumFractionDigits);
      }
      if (compact && decimal.point > 3 && compact !== COMPACT[0]) {
        const next = COMPACT[COMPACT.indexOf(compact) - 1];
        decimal = { digits: decimal.digits, point: decimal.point - 3 };
        compact = next;
        exponent = next[0];
      }
      zero = decimal.digits === "";
      const strings = digitStrings(decimal, o.minimumIntegerDigits, minFrac);
      if (o.trailingZeroDisplay === "stripIfInteger" && /^0*$/.test(strings.fraction)) strings.fraction = "";
      const minGroup = o.useGrouping === "min2" ? 5 : 4;
      const grouped = group(strings.integer || "0", o.useGrouping ? s.group : "", minGroup);
      grouped.split(s.group).forEach((piece, i) => {
        if (i > 0) parts.push({ type: "group", value: s.group });
        parts.push({ type: "integer", value: piece });
      });
      if (strings.fraction) parts.push({ type: "decimal", value: s.decimal }, { type: "fraction", value: strings.fraction });
      if (compact) parts.push(o.compactDisplay === "long" ? { type: "literal", value: " " } : null, { type: "compact", value: o.compactDisplay === "long" ? compact[2] : compact[1] });
      else if (o.notation === "scientific" || o.notation === "engineering") {
        parts.push({ type: "exponentSeparator", value: "E" });
        if (exponent < 0) parts.push({ type: "exponentMinusSign", value: "-" });
        parts.push({ type: "exponentInteger", value: String(Math.abs(exponent)) });
      }
    }
    const number = parts.filter(Boolean);
    const sign = o.signDisplay === "never" ? "" : negative && !(zero && (o.signDisplay === "exceptZero" || o.signDisplay === "negative")) ? "-"
      : (o.signDisplay === "always" || (o.signDisplay === "exceptZero" && !zero && !(typeof x === "number" && isNaN(x)))) ? "+" : "";
    const accounting = o.style === "currency" && o.currencySign === "accounting" && sign === "-";
    const signPart = sign && !accounting ? [{ type: sign === "-" ? "minusSign" : "plusSign", value: sign }] : [];
    const plural = !(number.length === 1 && number[0].value === "1");
    let out;
    if (o.style === "currency") {
      const code = o.currency;
      const display = o.currencyDisplay;
      if (display === "name") {
        const names = CURRENCY_NAMES[code] || [code, code];
        out = signPart.concat(number, [{ type: "literal", value: " " }, { type: "currency", value: plural ? names[1] : names[0] }]);
      } else {
        const symbol = display === "code" ? code : display === "narrowSymbol" && /\$$/.test(CURRENCY_SYMBOLS[code] || "") ? "$" : CURRENCY_SYMBOLS[code] || code;
        const spaced = display === "code" || /^[A-Z]+$/.test(symbol);
        out = s.suffix ? signPart.concat(number, [{ type: "literal", value: NBSP }, { type: "currency", value: symbol }])
          : signPart.concat([{ type: "currency", value: symbol }], spaced ? [{ type: "literal", value: NBSP }] : [], number);
      }
      if (accounting) out = [{ type: "literal", value: "(" }].concat(out, [{ type: "literal", value: ")" }]);
    } else if (o.style === "percent") {
      out = signPart.concat(number, s.suffix ? [{ type: "literal", value: NBSP }] : [], [{ type: "percentSign", value: "%" }]);
    } else if (o.style === "unit") {
      const label = unitLabel(o.unit, o.unitDisplay, plural);
      const tight = o.unitDisplay === "narrow" || o.unit === "percent" || (o.unitDisplay === "short" && /^\u00b0/.test(label));
      out = signPart.concat(number, tight ? [] : [{ type: "literal", value: " " }], [{ type: "unit", value: label }]);
    } else {
      out = signPart.concat(number);
    }
    return out;
  }
  resolvedOptions() {
    const o = this._;
    const out = { locale: o.locale, numberingSystem: "latn", style: o.style };
    if (o.style === "currency") Object.assign(out, { currency: o.currency, currencyDisplay: o.currencyDisplay, currencySign: o.currencySign });
    if (o.style === "unit") Object.assign(out, { unit: o.unit, unitDisplay: o.unitDisplay });
    Object.assign(out, { minimumIntegerDigits: o.minimumIntegerDigits, minimumFractionDigits: o.minimumFractionDigits, maximumFractionDigits: o.maximumFractionDigits });
    if (o.significant) Object.assign(out, { minimumSignificantDigits: o.minimumSignificantDigits, maximumSignificantDigits: o.maximumSignificantDigits });
    return Object.assign(out, { useGrouping: o.useGrouping, notation: o.notation, signDisplay: o.signDisplay, roundingMode: "halfExpand", trailingZeroDisplay: o.trailingZeroDisplay });
  }
}

${INTL_TEXT_BODY}
// NumberFormat, DateTimeFormat and Collator construct when called without "new", as the standard says.
function callable(Class) {
  const Ctor = function (locales, optionsArg) { return new Class(locales, optionsArg); };
  Object.defineProperty(Ctor, "name", { value: Class.name });
  Ctor.prototype = Class.prototype;
  Ctor.supportedLocalesOf = Class.supportedLocalesOf;
  Object.defineProperty(Class.prototype, "constructor", { value: Ctor, writable: true, configurable: true });
  return Ctor;
}
const Intl = {
  NumberFormat: callable(NumberFormat),
  Collator: callable(Collator),
  PluralRules,
  ListFormat,
  RelativeTimeFormat,
  getCanonicalLocales(locales) { return locales === undefined ? [] : (typeof locales === "string" ? [locales] : Array.from(locales)).map((l) => localeOf(l)); },
};
// The date formats are evaluated when first used.
Object.defineProperty(Intl, "DateTimeFormat", { get() { return loadDates().DateTimeFormat; }, configurable: true });
Object.defineProperty(Intl, Symbol.toStringTag, { value: "Intl" });
return { Intl, localeOf, options, pick, callable };
})`;
