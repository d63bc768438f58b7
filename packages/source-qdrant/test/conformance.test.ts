import { sourceSuite } from "@strongbox/testkit";
import { standInFixture } from "./fixture.js";

sourceSuite("qdrant (stand-in)", standInFixture, { timeoutMs: 30_000 });
