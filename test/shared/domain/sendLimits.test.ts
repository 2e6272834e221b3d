// The send limits a blast's claims enforce on one account, from the deployment's, the account's and
// the blast's settings; and the calendar month the unreplied budget counts in.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  budgetPauseOver,
  isBudgetPause,
  sendLimitsFor,
  unrepliedBudgetReason,
  unrepliedMonthOf,
  validateFrequencyCap,
  validateUnrepliedBudget,
} from "../../../shared/domain/sendLimits.ts";

const weekly = { max: 2, periodHours: 168 };
const daily = { max: 1, periodHours: 24 };

describe("send limits", () => {
  it("takes the blast's own cap over the deployment's, and still counts a blast that turned it off", () => {
    const deployment = { frequencyCap: weekly, unrepliedBudgetPerMonth: 0 };
    assert.deepEqual(sendLimitsFor(deployment, {}, {}), {
      frequencyCap: weekly,
      countFrequency: true,
      unrepliedBudget: 0,
    });
    assert.deepEqual(sendLimitsFor(deployment, {}, { frequencyCap: daily }).frequencyCap, daily);
    assert.deepEqual(sendLimitsFor(deployment, {}, { frequencyCap: null }), {
      frequencyCap: null,
      countFrequency: true,
      unrepliedBudget: 0,
    });
  });

  it("counts sends only while some cap is in use when the deployment has none", () => {
    const deployment = { frequencyCap: null, unrepliedBudgetPerMonth: 0 };
    assert.deepEqual(sendLimitsFor(deployment, {}, {}), {
      frequencyCap: null,
      countFrequency: false,
      unrepliedBudget: 0,
    });
    assert.equal(sendLimitsFor(deployment, {}, { frequencyCap: null }).countFrequency, false);
    assert.deepEqual(sendLimitsFor(deployment, {}, { frequencyCap: daily }), {
      frequencyCap: daily,
      countFrequency: true,
      unrepliedBudget: 0,
    });
  });

  it("takes the account's own unreplied budget over the deployment's, 0 turning it off", () => {
    const deployment = { frequencyCap: null, unrepliedBudgetPerMonth: 500 };
    assert.equal(sendLimitsFor(deployment, {}, {}).unrepliedBudget, 500);
    assert.equal(sendLimitsFor(deployment, { unrepliedBudgetPerMonth: 50 }, {}).unrepliedBudget, 50);
    assert.equal(sendLimitsFor(deployment, { unrepliedBudgetPerMonth: 0 }, {}).unrepliedBudget, 0);
  });

  it("refuses caps and budgets that cannot be enforced", () => {
    assert.deepEqual(validateFrequencyCap(weekly), []);
    assert.deepEqual(validateFrequencyCap({ max: 1000, periodHours: 744 }), []);
    assert.equal(validateFrequencyCap({ max: 0, periodHours: 24 }).length, 1);
    assert.equal(validateFrequencyCap({ max: 1.5, periodHours: 0 }).length, 2);
    assert.equal(validateFrequencyCap({ max: 1, periodHours: 745 }).length, 1);
    assert.deepEqual(validateUnrepliedBudget(0), []);
    assert.equal(validateUnrepliedBudget(-1).length, 1);
    assert.equal(validateUnrepliedBudget(2.5).length, 1);
  });

  it("counts the budget by calendar month in UTC, whatever the local time", () => {
    assert.equal(unrepliedMonthOf(Date.parse("2026-11-30T23:59:59.999Z")), "2026-11");
    assert.equal(unrepliedMonthOf(Date.parse("2026-12-01T00:00:00.000Z")), "2026-12");
    // Already December in Jakarta, still November in UTC.
    assert.equal(unrepliedMonthOf(Date.parse("2026-12-01T06:00:00+07:00")), "2026-11");
    assert.match(
      unrepliedBudgetReason(300, "2026-11"),
      /^monthly budget of 300 messages to people who have not replied reached \(2026-11, UTC\)/,
    );
  });
  it("lifts a budget pause once the month turns or the budget is raised, and no other pause", () => {
    const reason = unrepliedBudgetReason(3, "2026-11");
    assert.equal(isBudgetPause(reason), true);
    assert.equal(budgetPauseOver(reason, { month: "2026-11", sends: 3, budget: 3 }), false);
    assert.equal(budgetPauseOver(reason, { month: "2026-12", sends: 0, budget: 3 }), true, "a new month");
    assert.equal(budgetPauseOver(reason, { month: "2026-11", sends: 3, budget: 10 }), true, "raised");
    assert.equal(budgetPauseOver(reason, { month: "2026-11", sends: 3, budget: 0 }), true, "taken away");
    const restricted = "WhatsApp is restricting this account (463); wait before resuming";
    assert.equal(isBudgetPause(restricted), false);
    assert.equal(budgetPauseOver(restricted, { month: "2026-12", sends: 0, budget: 0 }), false);
  });
});
