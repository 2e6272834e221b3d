import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  phoneOfJid,
  toJid,
  type LidDirectory,
} from "../../../../../services/sender/transports/baileys/addressing.ts";

const directory = (known: Record<string, string>): LidDirectory & { asked: string[] } => {
  const asked: string[] = [];
  return {
    asked,
    getPNForLID: async (lid) => {
      asked.push(lid);
      return known[lid] ?? null;
    },
  };
};

describe("addressing: JIDs back to the phone numbers on the list", () => {
  it("reads a number straight from a phone-number JID, any device, without asking the mapping", async () => {
    const dir = directory({});
    assert.equal(await phoneOfJid("12025550100@s.whatsapp.net", dir), "+12025550100");
    assert.equal(await phoneOfJid("12025550100:7@s.whatsapp.net", dir), "+12025550100");
    assert.deepEqual(dir.asked, []);
  });

  it("resolves a LID through the alternate JID the stanza carried, else the client's mapping", async () => {
    const dir = directory({ "200000000000222@lid": "12025550111@s.whatsapp.net" });
    assert.equal(await phoneOfJid("200000000000999@lid", dir, "12025550199@s.whatsapp.net"), "+12025550199");
    assert.equal(await phoneOfJid("200000000000222@lid", dir), "+12025550111");
    assert.deepEqual(dir.asked, ["200000000000222@lid"]);
  });

  it("answers undefined for a LID never paired with a number, and for groups", async () => {
    const dir = directory({});
    assert.equal(await phoneOfJid("200000000000333@lid", dir), undefined);
    assert.equal(await phoneOfJid("120363000000000000@g.us", dir), undefined);
  });

  it("writes the number JID WhatsApp expects", () => {
    assert.equal(toJid("+12025550100"), "12025550100@s.whatsapp.net");
  });
});
