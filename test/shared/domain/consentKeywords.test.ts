import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConsentKeywordMatcher,
  DEFAULT_OPT_IN_KEYWORDS,
  DEFAULT_OPT_OUT_KEYWORDS,
  keywordForm,
  keywordsFrom,
} from "../../../shared/domain/consentKeywords.ts";

const defaults = new ConsentKeywordMatcher({
  optOut: DEFAULT_OPT_OUT_KEYWORDS,
  optIn: DEFAULT_OPT_IN_KEYWORDS,
});

describe("consent keywords", () => {
  it("reads a message that is only an opt-out keyword, whatever its case, accents and punctuation", () => {
    for (const text of [
      "STOP",
      "stop",
      " Stop. ",
      "Stop!!",
      "🛑 stop 🛑",
      "Unsubscribe",
      "berhenti",
      "Parar",
      "ALTO",
      "arrêt",
      "ARRET",
      "Stopp",
      "stop  all",
      '"STOP"',
    ]) {
      assert.equal(defaults.intentOf(text), "optout", text);
    }
  });

  it("does not read a sentence that contains a keyword as one", () => {
    for (const text of [
      "don't stop",
      "stop sending me this",
      "Please stop?",
      "STOP IT",
      "nonstop",
      "start over",
      "",
      "😀",
      "Who is this?",
    ]) {
      assert.equal(defaults.intentOf(text), undefined, text);
    }
  });

  it("reads opt-in keywords as opt-ins", () => {
    for (const text of ["START", "start", "Start.", "unstop", "Mulai"])
      assert.equal(defaults.intentOf(text), "optin", text);
  });

  it("takes configured keywords instead of the defaults, compared the same way", () => {
    const custom = new ConsentKeywordMatcher({
      optOut: keywordsFrom("Désinscrire, NO MORE", DEFAULT_OPT_OUT_KEYWORDS),
      optIn: keywordsFrom("", DEFAULT_OPT_IN_KEYWORDS),
    });
    assert.equal(custom.intentOf("desinscrire"), "optout");
    assert.equal(custom.intentOf("no   more!"), "optout");
    assert.equal(custom.intentOf("STOP"), undefined, "the defaults are replaced, not extended");
    assert.equal(custom.intentOf("START"), "optin");
  });

  it("refuses a keyword configured both ways", () => {
    assert.throws(
      () => new ConsentKeywordMatcher({ optOut: ["STOP"], optIn: ["stop."] }),
      /both opt out and opt in: STOP/,
    );
  });

  it("never reads a long message as a keyword", () => {
    assert.equal(defaults.intentOf(`STOP${" ".repeat(100)}`), undefined);
    assert.equal(keywordForm("  Ça  Va? "), "CA VA");
  });
});
