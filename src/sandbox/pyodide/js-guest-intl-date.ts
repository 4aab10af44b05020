// `Intl.DateTimeFormat` and the `Date` locale methods for the JavaScript guest (js-guest-web.ts says why):
// the en-US forms V8 prints ("11/4/2024, 9:15:02 AM", "Monday, November 4, 2024", dateStyle/timeStyle,
// 2-digit fields, hour12/hourCycle, fractional seconds, time zone names), en-GB's and ISO-like sv-SE's
// order, and numeric day-month-year forms for other European locales (their month and day names stay
// English). Time zones: UTC (the sandbox's own) and fixed offsets such as "+05:30"; a named zone such as
// "America/New_York" is a RangeError naming the limit, since the sandbox carries no time zone data and a
// silently wrong hour is worse than an error. Part of the child: erasable syntax only.

/** A function expression's source; called with js-guest-intl.ts's helpers, it returns `{ DateTimeFormat, formatDate }`. */
export const INTL_DATE_SOURCE = String.raw`(function (numbers) {
"use strict";
const { localeOf, options, pick } = numbers;
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const DATE_FIELDS = ["weekday", "year", "month", "day"];
const TIME_FIELDS = ["dayPeriod", "hour", "minute", "second", "fractionalSecondDigits"];
const STYLES = ["full", "long", "medium", "short"];

function timeZoneOf(value) {
  if (value === undefined) return { name: "UTC", offset: 0 };
  const text = String(value);
  if (/^(etc\/)?(utc|gmt|uct|zulu|universal)$/i.test(text) || /^etc\/gmt[+-]?0$/i.test(text)) return { name: "UTC", offset: 0 };
  const fixed = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (fixed && Number(fixed[2]) < 24 && Number(fixed[3]) < 60) {
    return { name: fixed[1] + fixed[2] + ":" + fixed[3], offset: (fixed[1] === "-" ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3])) };
  }
  throw new RangeError("Time zone " + text + " is not available in the sandbox: it has no time zone data (use UTC or a fixed offset such as +05:30)");
}
function dateOptions(optionsArg, required, defaults) {
  const opts = options(optionsArg);
  const out = {};
  for (const name of ["dateStyle", "timeStyle"]) out[name] = pick(opts, name, STYLES, undefined);
  out.weekday = pick(opts, "weekday", ["narrow", "short", "long"], undefined);
  out.year = pick(opts, "year", ["numeric", "2-digit"], undefined);
  out.month = pick(opts, "month", ["numeric", "2-digit", "narrow", "short", "long"], undefined);
  for (const name of ["day", "hour", "minute", "second"]) out[name] = pick(opts, name, ["numeric", "2-digit"], undefined);
  out.dayPeriod = pick(opts, "dayPeriod", ["narrow", "short", "long"], undefined);
  const fraction = opts.fractionalSecondDigits;
  out.fractionalSecondDigits = fraction === undefined ? undefined : Math.floor(Number(fraction));
  if (out.fractionalSecondDigits !== undefined && !(out.fractionalSecondDigits >= 1 && out.fractionalSecondDigits <= 3)) throw new RangeError("fractionalSecondDigits value is out of range.");
  out.timeZoneName = pick(opts, "timeZoneName", ["short", "long", "shortOffset", "longOffset", "shortGeneric", "longGeneric"], undefined);
  out.hour12 = opts.hour12 === undefined ? undefined : Boolean(opts.hour12);
  out.hourCycle = pick(opts, "hourCycle", ["h11", "h12", "h23", "h24"], undefined);
  out.timeZone = timeZoneOf(opts.timeZone);
  const styled = out.dateStyle !== undefined || out.timeStyle !== undefined;
  if (styled && DATE_FIELDS.concat(TIME_FIELDS, ["timeZoneName"]).some((name) => out[name] !== undefined)) {
    throw new TypeError("Can't set option " + DATE_FIELDS.concat(TIME_FIELDS, ["timeZoneName"]).find((name) => out[name] !== undefined) + " when " + (out.dateStyle ? "dateStyle" : "timeStyle") + " is used");
  }
  if (!styled) {
    let needDefaults = true;
    if ((required === "date" || required === "any") && DATE_FIELDS.some((name) => out[name] !== undefined)) needDefaults = false;
    if ((required === "time" || required === "any") && TIME_FIELDS.some((name) => out[name] !== undefined)) needDefaults = false;
    if (needDefaults && (defaults === "date" || defaults === "all")) out.year = out.month = out.day = "numeric";
    if (needDefaults && (defaults === "time" || defaults === "all")) out.hour = out.minute = out.second = "numeric";
  }
  if (out.dateStyle) {
    const style = out.dateStyle;
    if (style === "full") out.weekday = "long";
    out.year = style === "short" ? "2-digit" : "numeric";
    out.month = style === "full" || style === "long" ? "long" : style === "medium" ? "short" : "numeric";
    out.day = "numeric";
  }
  if (out.timeStyle) {
    out.hour = "numeric";
    out.minute = "2-digit";
    if (out.timeStyle !== "short") out.second = "2-digit";
    if (out.timeStyle === "full") out.timeZoneName = "long";
    if (out.timeStyle === "long") out.timeZoneName = "short";
  }
  return out;
}

const two = (n) => (n < 10 ? "0" : "") + n;
function fields(time, zone) {
  const d = new Date(time + zone.offset * 60000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(), weekday: d.getUTCDay(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), ms: d.getUTCMilliseconds() };
}
function zoneLabel(zone, style) {
  if (zone.name === "UTC") return style === "long" ? "Coordinated Universal Time" : style === "longOffset" ? "GMT" : style === "short" ? "UTC" : "GMT";
  const sign = zone.offset < 0 ? "-" : "+", abs = Math.abs(zone.offset), h = Math.floor(abs / 60), m = abs % 60;
  return "GMT" + sign + (style === "longOffset" ? two(h) + ":" + two(m) : h + (m ? ":" + two(m) : ""));
}

function dateParts(o, f, locale) {
  const lang = locale.split("-")[0];
  const gb = locale === "en-GB" || locale === "en-AU" || locale === "en-NZ" || locale === "en-IE" || locale === "en-IN";
  const iso = lang === "sv" || locale === "en-CA" || lang === "lt";
  const parts = [];
  const lit = (value) => parts.push({ type: "literal", value });
  const add = (type, value) => parts.push({ type, value: String(value) });
  const weekday = o.weekday && (o.weekday === "long" ? DAYS[f.weekday] : o.weekday === "short" ? DAYS[f.weekday].slice(0, 3) : DAYS[f.weekday][0]);
  const year = o.year && (o.year === "2-digit" ? two(f.year % 100) : f.year);
  const textMonth = o.month === "long" || o.month === "short" || o.month === "narrow";
  const european = !textMonth && (gb || ["de", "fr", "es", "it", "nl", "pt", "da", "nb", "no", "fi", "pl", "ru", "cs", "tr", "uk"].indexOf(lang) >= 0);
  const pad = gb || lang === "fr" || lang === "es" || lang === "it" || lang === "pt" || lang === "nl" || iso;
  const day = o.day && (o.day === "2-digit" || (pad && !textMonth && o.month) ? two(f.day) : f.day);
  const month = o.month && (o.month === "long" ? MONTHS[f.month] : o.month === "short" ? MONTHS[f.month].slice(0, 3) : o.month === "narrow" ? MONTHS[f.month][0]
    : o.month === "2-digit" || (pad && o.day) ? two(f.month + 1) : f.month + 1);
  if (weekday) {
    add("weekday", weekday);
    if (year || month || day) lit(gb && textMonth ? " " : ", ");
  }
  if (textMonth) {
    const items = gb ? [["day", day], ["month", month], ["year", year]] : [["month", month], ["day", day], ["year", year]];
    items.filter(([, v]) => v !== undefined && v !== false).forEach(([type, value], i, all) => {
      if (i > 0) lit(!gb && type === "year" && all[i - 1][0] === "day" ? ", " : " ");
      add(type, value);
    });
  } else {
    const order = iso ? ["year", "month", "day"] : european ? ["day", "month", "year"] : ["month", "day", "year"];
    const separator = iso ? "-" : lang === "de" || lang === "fi" || lang === "nb" || lang === "no" || lang === "da" || lang === "pl" || lang === "ru" || lang === "cs" || lang === "tr" || lang === "uk" ? "." : lang === "nl" ? "-" : "/";
    const values = { year, month, day };
    order.filter((type) => values[type] !== undefined && values[type] !== false).forEach((type, i) => {
      if (i > 0) lit(separator);
      add(type, values[type]);
    });
  }
  return parts;
}
function timeParts(o, f, locale) {
  const lang = locale.split("-")[0];
  const twelveDefault = lang === "en" && locale !== "en-GB" && locale !== "en-IE" ? true : ["ko", "hi", "ar"].indexOf(lang) >= 0;
  const twelve = o.hour12 !== undefined ? o.hour12 : o.hourCycle ? o.hourCycle === "h11" || o.hourCycle === "h12" : twelveDefault;
  const parts = [];
  const lit = (value) => parts.push({ type: "literal", value });
  const add = (type, value) => parts.push({ type, value: String(value) });
  if (o.hour) {
    let hour = twelve ? f.hour % 12 || 12 : f.hour;
    if (twelve && o.hourCycle === "h11") hour = f.hour % 12;
    add("hour", o.hour === "2-digit" || (!twelve && (o.minute || o.second)) ? two(hour) : hour);
  }
  if (o.minute) {
    if (o.hour) lit(":");
    add("minute", o.hour || o.minute === "2-digit" ? two(f.minute) : f.minute);
  }
  if (o.second) {
    if (o.hour || o.minute) lit(":");
    add("second", o.hour || o.minute || o.second === "2-digit" ? two(f.second) : f.second);
  }
  if (o.fractionalSecondDigits) {
    if (parts.length) lit(".");
    add("fractionalSecond", String(f.ms).padStart(3, "0").slice(0, o.fractionalSecondDigits));
  }
  if (o.hour && twelve) {
    lit(" ");
    add("dayPeriod", f.hour < 12 ? "AM" : "PM");
  }
  if (o.timeZoneName) {
    if (parts.length) lit(" ");
    add("timeZoneName", zoneLabel(o.timeZone, o.timeZoneName));
  }
  return parts;
}
function partsOf(o, locale, value) {
  const time = value === undefined ? Date.now() : value instanceof Date ? value.getTime() : Number(value);
  if (!isFinite(time)) throw new RangeError("Invalid time value");
  const f = fields(time, o.timeZone);
  const date = dateParts(o, f, locale);
  const clock = timeParts(o, f, locale);
  if (!date.length || !clock.length) return date.concat(clock);
  const joiner = o.dateStyle === "full" || o.dateStyle === "long" ? " at " : locale.split("-")[0] === "sv" ? " " : ", ";
  return date.concat([{ type: "literal", value: joiner }], clock);
}

class DateTimeFormat {
  constructor(locales, optionsArg) {
    this._ = { locale: localeOf(locales), options: dateOptions(optionsArg, "any", "date") };
    this.format = (date) => this.formatToParts(date).map((part) => part.value).join("");
  }
  static supportedLocalesOf(locales) { return locales === undefined ? [] : [localeOf(locales)]; }
  formatToParts(date) { return partsOf(this._.options, this._.locale, date); }
  formatRange(start, end) { return this.format(start) + " \u2013 " + this.format(end); }
  resolvedOptions() {
    const o = this._.options;
    const out = { locale: this._.locale, calendar: "gregory", numberingSystem: "latn", timeZone: o.timeZone.name };
    if (o.hour) Object.assign(out, { hourCycle: o.hourCycle || (timeParts(o, fields(0, o.timeZone), this._.locale).some((p) => p.type === "dayPeriod") ? "h12" : "h23") }, { hour12: out.hourCycle === "h12" });
    for (const name of ["weekday", "year", "month", "day", "hour", "minute", "second", "fractionalSecondDigits", "timeZoneName", "dateStyle", "timeStyle"]) {
      if (o[name] !== undefined && (name === "dateStyle" || name === "timeStyle" || !(o.dateStyle || o.timeStyle))) out[name] = o[name];
    }
    if (out.hourCycle) out.hour12 = out.hourCycle === "h11" || out.hourCycle === "h12";
    return out;
  }
}

// Date.prototype.toLocaleString / toLocaleDateString / toLocaleTimeString (js-guest-web.ts installs them).
function formatDate(date, locales, optionsArg, required, defaults) {
  const time = date.getTime();
  if (!isFinite(time)) return "Invalid Date";
  const o = dateOptions(optionsArg, required, defaults);
  return partsOf(o, localeOf(locales), time).map((part) => part.value).join("");
}

return { DateTimeFormat: numbers.callable(DateTimeFormat), formatDate };
})`;
