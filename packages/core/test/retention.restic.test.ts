import { planRetention, type RetentionCandidate, type RetentionPolicy } from "@strongbox/core";
import { describe, expect, it } from "vitest";
import { zoneClock } from "../src/retention/calendar.js";
import { formatRetentionDuration, parseRetentionDuration, subtractDuration } from "../src/retention/duration.js";

/**
 * Expectations taken from restic itself.
 *
 * ORACLE below was produced by running the real `restic forget --dry-run --json --group-by ''`
 * (restic 0.14.0, Debian 12) over repositories whose snapshots were made with `restic backup
 * --time` under `TZ=<zone>`: restic buckets each snapshot in the zone it was taken in, which is
 * what `policy.timeZone` does here. "restic" is the data set of restic's own
 * `internal/restic/snapshot_policy_test.go` (the sub-second duplicates moved to :31, since
 * `--time` takes whole seconds) with the policies of that test; the other sets cluster around
 * DST changes and ISO-year ends. restic was run on 2026-11-22, so the New York snapshots of
 * December 2026 were in the future for it and ignored as the "latest" reference, as here.
 *
 * restic 0.14 predates two behaviours (both checked separately below against restic >= 0.16's
 * code and golden files): keeping the oldest snapshot when a rule is short, and -1 = unlimited.
 * So the oracle runs with `keepOldestWhenShort: false`. Two documented differences remain:
 * among snapshots with the SAME time restic's pick follows its stable sort, ours the id (so we
 * compare times, not identities), and a tags-only policy also keeps the newest backup here.
 *
 * times: epoch seconds, ascending (restic's listing order); [seconds, "tag,tag"] when tagged.
 * cases: [policy, indexes (into times) of the snapshots restic kept, as ranges].
 */
const ORACLE: Record<
  string,
  { timeZone: string; times: Array<number | [number, string]>; cases: Array<[RetentionPolicy, string]> }
> = {
  restic: {
    timeZone: "UTC",
    times: [
      1407493230,
      1407666030,
      1407838830,
      1407925230,
      1407925231,
      1408098030,
      1408357230,
      1408530030,
      1408616430,
      1408702830,
      1409566830,
      1409653230,
      1409912430,
      1409998830,
      1410171630,
      1410258030,
      1410344430,
      1410430830,
      1411208430,
      1411381230,
      [1412158830, "foo"],
      [1412245230, "foo"],
      [1412504430, "foo"],
      [1412590830, "foo"],
      [1412763630, "foo"],
      [1412850030, "foo"],
      [1412936430, "foo"],
      [1413022830, "foo"],
      [1413800430, "foo"],
      [1413973230, "foo"],
      [1415442030, "foo"],
      [1415614830, "foo"],
      [1415787630, "foo"],
      [1415874030, "foo"],
      [1415874031, "bar"],
      [1416046830, "foo,bar"],
      1416306030,
      1416478830,
      1416565230,
      1416651630,
      1439029230,
      1439202030,
      1439374830,
      1439461230,
      1439461231,
      1439634030,
      1439893230,
      1440066030,
      1440152430,
      1440238830,
      1441102830,
      1441189230,
      1441448430,
      1441534830,
      1441707630,
      1441794030,
      1441880430,
      1441966830,
      1442744430,
      1442917230,
      1443694830,
      1443781230,
      1444040430,
      1444126830,
      1444299630,
      1444386030,
      1444472430,
      1444558830,
      1445336430,
      [1445509230, "foo,bar"],
      1445509230,
      1445509230,
      [1445509230, "foo,bar"],
      [1445509230, "foo,bar"],
      1446978030,
      1447150830,
      1447323630,
      1447410030,
      1447410031,
      1447582830,
      1447842030,
      1448014830,
      1448101230,
      1448187630,
      1451610123,
      1451610183,
      1451632083,
      1451804523,
      1451902983,
      1451906583,
      1451910183,
      1451910243,
      1451910483,
      1451910603,
      1451924583,
      1451984523,
      1452067323,
      1452160923,
      1452283323,
      1452373323,
      1452632523,
      1452632883,
      1453118523,
    ],
    cases: [
      [{ keepLast: 10 }, "93-102"],
      [{ keepLast: 15 }, "88-102"],
      [{ keepLast: 99 }, "4-102"],
      [{ keepLast: 200 }, "0-102"],
      [{ keepHourly: 20 }, "78-83,85-89,93-99,101-102"],
      [{ keepDaily: 3 }, "99,101-102"],
      [{ keepDaily: 10 }, "86-87,94-99,101-102"],
      [{ keepDaily: 30 }, "59-69,74-76,78-83,86-87,94-99,101-102"],
      [{ keepLast: 5, keepDaily: 5 }, "97-102"],
      [{ keepLast: 2, keepDaily: 10 }, "86-87,94-99,101-102"],
      [{ keepWeekly: 2 }, "101-102"],
      [{ keepWeekly: 4 }, "87,99,101-102"],
      [{ keepDaily: 3, keepWeekly: 4 }, "87,99,101-102"],
      [{ keepMonthly: 6 }, "39,49,59,69,83,102"],
      [{ keepDaily: 2, keepWeekly: 2, keepMonthly: 6 }, "39,49,59,69,83,101-102"],
      [{ keepYearly: 10 }, "39,83,102"],
      [{ keepDaily: 7, keepWeekly: 2, keepMonthly: 3, keepYearly: 10 }, "39,69,83,95-99,101-102"],
      [{ keepTags: ["foo"] }, "20-33,35,69,72-73"],
      [{ keepTags: ["foo", "bar"] }, "20-35,69,72-73"],
      [{ keepWithin: "1d" }, "102"],
      [{ keepWithin: "2d" }, "102"],
      [{ keepWithin: "7d" }, "100-102"],
      [{ keepWithin: "1m" }, "84-102"],
      [{ keepWithin: "1m14d" }, "84-102"],
      [{ keepWithin: "1y1d1m" }, "40-102"],
      [{ keepWithin: "13d23h" }, "94-102"],
      [{ keepWithin: "2m2h" }, "80-102"],
      [{ keepWithin: "1y2m3d3h" }, "35-102"],
      [{ keepWithinHourly: "1y2m3d3h" }, "35-42,44-69,74-76,78-83,85-89,93-99,101-102"],
      [{ keepWithinDaily: "1y2m3d3h" }, "35-42,44-69,74-76,78-83,86-87,94-99,101-102"],
      [{ keepWithinWeekly: "1y2m3d3h" }, "35,39-40,45,49,53,57-59,61,67,69,74,79,83,87,99,101-102"],
      [{ keepWithinMonthly: "1y2m3d3h" }, "39,49,59,69,83,102"],
      [{ keepWithinYearly: "1y2m3d3h" }, "39,83,102"],
      [
        {
          keepWithin: "1h",
          keepWithinHourly: "1d",
          keepWithinDaily: "7d",
          keepWithinWeekly: "1m",
          keepWithinMonthly: "1y",
          keepWithinYearly: "9999y",
        },
        "39,49,59,69,83,87,99,101-102",
      ],
      [{ keepDaily: 3, keepWeekly: 2, keepMonthly: 1000, keepYearly: 1000 }, "9,19,29,39,49,59,69,83,99,101-102"],
    ],
  },
  berlin: {
    timeZone: "Europe/Berlin",
    times: [
      1608783180, 1608800857, 1608837966, 1608866406, 1608903903, 1608916124, 1608951571, 1608972767, 1608985096,
      1608997877, 1609037014, 1609075831, 1609101931, 1609125744, 1609152322, 1609180547, 1609213737, 1609246996,
      1609269837, 1609294291, 1609329633, 1609350872, 1609375539, 1609388987, 1609421362, 1609456187, 1609477301,
      1609493252, 1609532327, 1609546643, 1609570541, 1609594483, 1609608394, 1609622478, 1609651180, 1609684237,
      1609697472, 1609725712, 1609763191, 1609781644, 1609809451, 1609830410, 1609850218, 1609875777, 1609907074,
      1609926795, 1609942151, 1609978126, 1610006943, 1610028667, 1616713620, 1616724198, 1616730363, 1616737616,
      1616754474, 1616766541, 1616777237, 1616783355, 1616793204, 1616799375, 1616803004, 1616816564, 1616831109,
      1616836792, 1616848212, 1616862495, 1616878808, 1616887755, 1616893611, 1616906404, 1616921936, 1616932788,
      1616943326, 1616958240, 1616975624, 1616983896, 1617000238, 1617006821, 1617014414, 1617031689, 1617045583,
      1617052190, 1617056541, 1617064372, 1617079866, 1617094410, 1617101043, 1617111977, 1617126469, 1617136079,
      1617144429, 1617153102, 1617159662, 1617175802, 1617182346, 1617195722, 1617209398, 1617219339, 1617226807,
      1635460860, 1635465691, 1635468396, 1635473670, 1635479663, 1635488218, 1635497771, 1635506535, 1635510419,
      1635518389, 1635525454, 1635527939, 1635536421, 1635545626, 1635552491, 1635561960, 1635564272, 1635572795,
      1635578516, 1635589272, 1635599272, 1635602839, 1635607176, 1635616605, 1635625712, 1635636376, 1635650346,
      1635652411, 1635662164, 1635666109, 1635676734, 1635680702, 1635690822, 1635700129, 1635707760, 1635714621,
      1635719768, 1635723242, 1635725284, 1635727172, 1635730187, 1635738867, 1635741455, 1635746553, 1635752775,
      1635763506, 1635767007, 1635773790, 1635780150, 1635785622, 1635792266, 1635794591, 1635802484, 1635806396,
    ],
    cases: [
      [{ keepHourly: 10 }, "143-152"],
      [{ keepHourly: 40 }, "111-124,126-136,138-152"],
      [{ keepDaily: 5 }, "98,111,123,135,152"],
      [{ keepDaily: 20 }, "18,21,24,28,33,36,39,43,46,49,59,66,73,81,89,98,111,123,135,152"],
      [{ keepWeekly: 3 }, "98,135,152"],
      [{ keepWeekly: 10 }, "12,36,49,73,98,135,152"],
      [{ keepMonthly: 2 }, "135,152"],
      [{ keepMonthly: 12 }, "24,49,98,135,152"],
      [{ keepYearly: 3 }, "24,152"],
      [{ keepLast: 3, keepDaily: 4, keepWeekly: 3, keepMonthly: 2 }, "98,111,123,135,150-152"],
      [{ keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }, "24,49,73,81,89,98,111,123,135,152"],
      [{ keepWithin: "1d" }, "136-152"],
      [{ keepWithin: "3d12h" }, "106-152"],
      [{ keepWithin: "1m" }, "99-152"],
      [{ keepWithinHourly: "2d" }, "124,126-136,138-152"],
      [{ keepWithinDaily: "10d" }, "111,123,135,152"],
      [{ keepWithinWeekly: "1m" }, "135,152"],
      [{ keepWithinMonthly: "1y" }, "24,49,98,135,152"],
      [{ keepWithinYearly: "5y" }, "24,152"],
      [
        {
          keepWithin: "7d",
          keepWithinDaily: "16d",
          keepWithinWeekly: "56d",
          keepWithinMonthly: "4m",
          keepWithinYearly: "2y",
        },
        "24,99-152",
      ],
    ],
  },
  newYork: {
    timeZone: "America/New_York",
    times: [
      1772845200, 1772851396, 1772857980, 1772865374, 1772869785, 1772881109, 1772893853, 1772898372, 1772909723,
      1772914442, 1772920350, 1772932457, 1772938978, 1772946458, 1772950293, 1772959491, 1772970022, 1772977860,
      1772986632, 1772997451, 1773005363, 1773010333, 1773021847, 1773033794, 1773037783, 1773044664, 1773049618,
      1773059440, 1773063581, 1773071085, 1773084664, 1773096977, 1773108445, 1793397600, 1793401709, 1793409222,
      1793421198, 1793425142, 1793431057, 1793443940, 1793449447, 1793456101, 1793469111, 1793480820, 1793494550,
      1793505985, 1793511255, 1793523446, 1793533454, 1793543218, 1793551275, 1793557616, 1793567884, 1793576403,
      1793580513, 1793592310, 1793597393, 1793601377, 1793612452, 1793620378, 1793630271, 1793636891, 1793651235,
      1793656379, 1793661754, 1793665789, 1793674960, 1793681564, 1798088700, 1798117953, 1798141651, 1798157553,
      1798182014, 1798197729, 1798224115, 1798244616, 1798259175, 1798271691, 1798300084, 1798335616, 1798347091,
      1798364371, 1798384447, 1798415333, 1798434747, 1798453587, 1798488969, 1798513660, 1798542177, 1798574249,
      1798585897, 1798612986, 1798633405, 1798648321, 1798668856, 1798702231, 1798725267, 1798760235, 1798786533,
      1798820312, 1798836863, 1798862962, 1798885227, 1798898768, 1798926793, 1798945870, 1798962611, 1798986587,
      1799014170, 1799037031, 1799063246, 1799096804, 1799123424, 1799148152, 1799161426, 1799191765,
    ],
    cases: [
      [{ keepHourly: 10 }, "106-115"],
      [{ keepHourly: 40 }, "76-115"],
      [{ keepDaily: 5 }, "101,105,109,112,115"],
      [{ keepDaily: 20 }, "12,22,32,35,44,55,67,71,76,80,83,87,90,94,97,101,105,109,112,115"],
      [{ keepWeekly: 3 }, "83,109,115"],
      [{ keepWeekly: 10 }, "22,32,55,67,83,109,115"],
      [{ keepMonthly: 2 }, "97,115"],
      [{ keepMonthly: 12 }, "32,44,67,97,115"],
      [{ keepYearly: 3 }, "97,115"],
      [{ keepLast: 3, keepDaily: 4, keepWeekly: 3, keepMonthly: 2 }, "83,97,105,109,112-115"],
      [{ keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }, "32,44,67,83,94,97,101,105,109,112,115"],
      [{ keepWithin: "1d" }, "56-115"],
      [{ keepWithin: "3d12h" }, "33-115"],
      [{ keepWithin: "1m" }, "33-115"],
      [{ keepWithinHourly: "2d" }, "45-115"],
      [{ keepWithinDaily: "10d" }, "35,44,55,67,71,76,80,83,87,90,94,97,101,105,109,112,115"],
      [{ keepWithinWeekly: "1m" }, "55,67,83,109,115"],
      [{ keepWithinMonthly: "1y" }, "32,44,67,97,115"],
      [{ keepWithinYearly: "5y" }, "97,115"],
      [
        {
          keepWithin: "7d",
          keepWithinDaily: "16d",
          keepWithinWeekly: "56d",
          keepWithinMonthly: "4m",
          keepWithinYearly: "2y",
        },
        "33-115",
      ],
    ],
  },
  seoul: {
    timeZone: "Asia/Seoul",
    times: [
      1672584000, 1673003758, 1673635657, 1674486149, 1675272519, 1675791256, 1676635847, 1677326058, 1677848191,
      1678130350, 1678899954, 1679266022, 1680061249, 1680688907, 1681449324, 1682176686, 1683053829, 1683426187,
      1683927191, 1684375740, 1684841378, 1685505383, 1685920377, 1686457749, 1687029833, 1687535801, 1688194901,
      1688983048, 1689860480, 1690717060, 1691643266, 1691974145, 1692563298, 1692998991, 1693390862, 1693774142,
      1694299693, 1694680224, 1695371454, 1696085423, 1696347630, 1696892936, 1697662612, 1698107341, 1698695068,
      1699559347, 1699928028, 1700380914, 1701085305, 1701471640, 1702123388, 1702866689, 1703625937, 1703920293,
      1704716952, 1705258390, 1706091646, 1706563498, 1706941691, 1707848275, 1708392707, 1708722048, 1709336747,
      1709695055, 1710578037, 1711137386, 1711565671, 1712139281, 1712729681, 1713357372, 1713714986, 1714518852,
      1715063350, 1715577280, 1716036744, 1716474556, 1717153704, 1717647178, 1718486021, 1719366494, 1719898402,
      1720266193, 1721023623, 1721817907, 1722287023, 1722682234, 1723243135, 1723818632, 1724625842, 1725555447,
      1726238392, 1726536933, 1726815998, 1727466598, 1727741117, 1728312932, 1729190648, 1730073657, 1730956984,
      1731308162, 1731868804, 1732529964, 1733003663, 1733819892, 1734632472, 1735158657, 1735628903, 1736524533,
      1737260991, 1737988149, 1738613204, 1739266175, 1739537387, 1740184332, 1740853753, 1741341983, 1742129640,
      1742481288, 1743289551, 1743811866, 1744093072, 1744687190, 1745416611, 1746057179, 1746910568, 1747388973,
      1747742177, 1748228862, 1748549823, 1748832654, 1749135009, 1750033162, 1750905741, 1751771096, 1752689713,
      1753011576, 1753870576, 1754589873, 1755441548, 1756340120, 1756608124, 1757323239, 1757799480, 1758295983,
      1758817176, 1759155070, 1759827739, 1760438484, 1760818343, 1761350567, 1761885430, 1762541364, 1763286445,
      1763973000, 1764418661, 1765204351, 1766054787, 1766524267, 1767410133, 1767758010, 1768082506, 1768562155,
      1768933658, 1769845237, 1770633924, 1771211693, 1772032367, 1772668813, 1773494095, 1773846863, 1774241842,
      1775006142, 1775660046, 1776589053, 1777317954, 1777831219, 1778368939, 1779091547, 1779900442, 1780716353,
      1781514040, 1782449409,
    ],
    cases: [
      [{ keepHourly: 10 }, "172-181"],
      [{ keepHourly: 40 }, "142-181"],
      [{ keepDaily: 5 }, "177-181"],
      [{ keepDaily: 20 }, "162-181"],
      [{ keepWeekly: 3 }, "179-181"],
      [{ keepWeekly: 10 }, "171-174,176-181"],
      [{ keepMonthly: 2 }, "178,181"],
      [{ keepMonthly: 12 }, "136,140,145,150,154,157,163,166,170,174,178,181"],
      [{ keepYearly: 3 }, "106,157,181"],
      [{ keepLast: 3, keepDaily: 4, keepWeekly: 3, keepMonthly: 2 }, "178-181"],
      [{ keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }, "136,140,145,150,154,157,163,166,170,174-181"],
      [{ keepWithin: "1d" }, "181"],
      [{ keepWithin: "3d12h" }, "181"],
      [{ keepWithin: "1m" }, "178-181"],
      [{ keepWithinHourly: "2d" }, "181"],
      [{ keepWithinDaily: "10d" }, "181"],
      [{ keepWithinWeekly: "1m" }, "178-181"],
      [{ keepWithinMonthly: "1y" }, "136,140,145,150,154,157,163,166,170,174,178,181"],
      [{ keepWithinYearly: "5y" }, "53,106,157,181"],
      [
        {
          keepWithin: "7d",
          keepWithinDaily: "16d",
          keepWithinWeekly: "56d",
          keepWithinMonthly: "4m",
          keepWithinYearly: "2y",
        },
        "106,157,170,174,176-181",
      ],
    ],
  },
};

function candidates(times: Array<number | [number, string]>): RetentionCandidate[] {
  return times.map((t, i) => {
    const [s, tags] = typeof t === "number" ? [t, undefined] : t;
    return { id: `s${String(i).padStart(3, "0")}`, time: new Date(s * 1000), tags: tags?.split(",") };
  });
}

function indexes(ranges: string): number[] {
  return ranges.split(",").flatMap((r) => {
    const [a, b] = r.split("-").map(Number) as [number, number | undefined];
    return Array.from({ length: (b ?? a) - a + 1 }, (_, k) => a + k);
  });
}

const RESTIC_NOW = new Date("2026-11-22T01:00:00Z");
const isTagsOnly = (p: RetentionPolicy) => Object.keys(p).every((k) => k === "keepTags");

describe.each(Object.entries(ORACLE))("restic 0.14 oracle: %s data set", (_name, set) => {
  const cands = candidates(set.times);

  it.each(set.cases)("%j keeps what restic keeps", (policy, kept) => {
    const plan = planRetention(
      cands,
      { ...policy, timeZone: set.timeZone, keepOldestWhenShort: false },
      { now: RESTIC_NOW },
    );
    const want = new Set(indexes(kept));
    // Documented difference: the newest backup is always kept, even by a tags-only policy.
    if (isTagsOnly(policy)) want.add(cands.length - 1);
    const wantTimes = [...want].map((i) => cands[i]!.time.getTime()).sort((a, b) => b - a);
    expect(plan.keep.map((k) => k.time.getTime())).toEqual(wantTimes);
    expect(plan.keep.length + plan.remove.length).toBe(cands.length);
  });

  it.each(
    set.cases.filter(([p]) =>
      ["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"].some((k) => k in p),
    ),
  )("%j with keepOldestWhenShort adds at most the oldest backup, with an 'oldest' reason", (policy) => {
    const off = planRetention(
      cands,
      { ...policy, timeZone: set.timeZone, keepOldestWhenShort: false },
      { now: RESTIC_NOW },
    );
    const on = planRetention(cands, { ...policy, timeZone: set.timeZone }, { now: RESTIC_NOW });
    const offIds = new Set(off.keep.map((k) => k.id));
    const added = on.keep.filter((k) => !offIds.has(k.id));
    expect(on.keep.length - added.length).toBe(off.keep.length);
    expect(added.length).toBeLessThanOrEqual(1);
    if (added[0]) {
      expect(added[0].id).toBe(on.keep.at(-1)!.id);
      expect(added[0].time.getTime()).toBe(Math.min(...cands.map((c) => c.time.getTime())));
      expect(added[0].reasons.every((r) => r.startsWith("oldest "))).toBe(true);
    }
  });

  it("-1 behaves as an unlimited count (restic >= 0.16)", () => {
    for (const rule of ["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"] as const) {
      const unlimited = planRetention(cands, { [rule]: -1, timeZone: set.timeZone }, { now: RESTIC_NOW });
      const huge = planRetention(cands, { [rule]: 1_000_000, timeZone: set.timeZone }, { now: RESTIC_NOW });
      expect(unlimited).toEqual(huge);
    }
  });
});

describe("restic >= 0.16 golden file policy_keep_snapshots_39", () => {
  // {Daily: 3, Weekly: 2, Monthly: -1, Yearly: -1} over restic's test data: the oldest snapshot is
  // kept by the unlimited monthly and yearly rules although its month and year were already kept.
  it("matches restic's keep list and reasons", () => {
    const cands = candidates(ORACLE.restic!.times);
    const plan = planRetention(cands, { keepDaily: 3, keepWeekly: 2, keepMonthly: -1, keepYearly: -1 });
    expect(plan.keep.map((k) => [k.time.toISOString().slice(0, 19), k.reasons])).toEqual([
      ["2016-01-18T12:02:03", ["daily 2016-01-18", "weekly 2016-W03", "monthly 2016-01", "yearly 2016"]],
      ["2016-01-12T21:08:03", ["daily 2016-01-12", "weekly 2016-W02"]],
      ["2016-01-09T21:02:03", ["daily 2016-01-09"]],
      ["2015-11-22T10:20:30", ["monthly 2015-11", "yearly 2015"]],
      ["2015-10-22T10:20:30", ["monthly 2015-10"]],
      ["2015-09-22T10:20:30", ["monthly 2015-09"]],
      ["2015-08-22T10:20:30", ["monthly 2015-08"]],
      ["2014-11-22T10:20:30", ["monthly 2014-11", "yearly 2014"]],
      ["2014-10-22T10:20:30", ["monthly 2014-10"]],
      ["2014-09-22T10:20:30", ["monthly 2014-09"]],
      ["2014-08-22T10:20:30", ["monthly 2014-08"]],
      ["2014-08-08T10:20:30", ["oldest monthly", "oldest yearly"]],
    ]);
  });
});

describe("restic durations (internal/restic/duration_test.go)", () => {
  it.each([
    ["9h", "9h"],
    ["3d", "3d"],
    ["4d2h", "4d2h"],
    ["7m5d", "7m5d"],
    ["6m4d8h", "6m4d8h"],
    ["5d7m", "7m5d"],
    ["4h3d9m", "9m3d4h"],
    ["1y2m3d4h", "1y2m3d4h"],
    [" 16d ", "16d"],
  ])("parses %j as %s", (input, canonical) => {
    expect(formatRetentionDuration(parseRetentionDuration(input))).toBe(canonical);
  });

  it.each(["2w", "1y4m3w1d", "s", "", "5", "-7m5d", "1y4m-5d-3h", "1d1d", "1.5d", "1 d", "7M"])(
    "refuses %j",
    (input) => {
      expect(() => parseRetentionDuration(input)).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
    },
  );

  it("goes back in calendar units like restic's PastTime", () => {
    const utc = zoneClock("UTC");
    const at = (s: string) => Date.parse(`${s.replace(" ", "T")}Z`);
    expect(
      new Date(subtractDuration(utc, at("1999-12-30 15:16:17"), parseRetentionDuration("1y2m3d4h"))).toISOString(),
    ).toBe("1998-10-27T11:16:17.000Z");
    // Month ends clamp (Go would normalise 31 Feb to 3 March); the window is never shorter than asked.
    expect(new Date(subtractDuration(utc, at("2026-03-31 12:00:00"), parseRetentionDuration("1m"))).toISOString()).toBe(
      "2026-02-28T12:00:00.000Z",
    );
    expect(new Date(subtractDuration(utc, at("2024-02-29 00:00:00"), parseRetentionDuration("1y"))).toISOString()).toBe(
      "2023-02-28T00:00:00.000Z",
    );
  });
});
