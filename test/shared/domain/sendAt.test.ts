import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { instantOfWallClock, parseSendAt } from "../../../shared/domain/sendAt.ts";

const now = new Date("2026-11-30T10:00:00Z");
const at = (sendAt: string, zone?: string) => {
  const result = parseSendAt(sendAt, zone, now);
  return result.ok ? result.at.toISOString() : `refused: ${result.reason}`;
};

describe("sendAt", () => {
  it("takes an ISO time with its offset as the instant it names", () => {
    assert.equal(at("2026-12-07T09:00:00+07:00"), "2026-12-07T02:00:00.000Z");
    assert.equal(at("2026-12-07T09:00Z"), "2026-12-07T09:00:00.000Z");
    assert.equal(at("2026-12-07T09:00:00.250-05:00"), "2026-12-07T14:00:00.250Z");
  });

  it("reads a wall-clock time in the zone given", () => {
    assert.equal(at("2026-12-07T09:00", "Asia/Jakarta"), "2026-12-07T02:00:00.000Z");
    assert.equal(at("2026-12-07T09:00", "America/Sao_Paulo"), "2026-12-07T12:00:00.000Z");
    // Summer time in Berlin (UTC+2) and winter time (UTC+1).
    assert.equal(at("2027-07-05T09:00", "Europe/Berlin"), "2027-07-05T07:00:00.000Z");
    assert.equal(at("2027-01-04T09:00", "Europe/Berlin"), "2027-01-04T08:00:00.000Z");
  });

  it("refuses a wall-clock time the zone skips, and takes the first of one it repeats", () => {
    // Europe/Berlin: 2027-03-28 02:00 → 03:00; 2027-10-31 03:00 → 02:00.
    assert.match(at("2027-03-28T02:30", "Europe/Berlin"), /does not happen in Europe\/Berlin/);
    assert.equal(at("2027-10-31T02:30", "Europe/Berlin"), "2027-10-31T00:30:00.000Z");
    assert.deepEqual(instantOfWallClock("2027-10-31T03:30", "Europe/Berlin"), {
      ok: true,
      at: new Date("2027-10-31T02:30:00.000Z"),
    });
  });

  it("refuses what cannot be a start time, saying why", () => {
    assert.match(at("2026-11-30T09:59:59Z"), /has already passed/);
    assert.match(at("2028-01-01T00:00:00Z"), /at most a year ahead/);
    assert.match(at("2026-12-07T09:00"), /has no offset/);
    assert.match(at("2026-12-07T09:00+07:00", "Asia/Jakarta"), /not both/);
    assert.match(at("2026-12-07T09:00", "Mars/Olympus"), /not an IANA time zone/);
    assert.match(at("2027-02-30T09:00", "UTC"), /do not exist|not a date and time that exist/);
    assert.match(at("next monday", "UTC"), /not a time like/);
  });
});
