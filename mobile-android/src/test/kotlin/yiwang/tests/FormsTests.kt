package yiwang.tests

import java.io.File
import yiwang.Draft
import yiwang.FormSchema
import yiwang.YiwangException
import yiwang.use

fun seniorCardJson(): String = File(repoRoot(), "core/forms/senior-card.json").readText()

fun formsTests() {
    test("forms: schema, draft, set, save, validate") {
        FormSchema.fromJson(seniorCardJson()).use { schema ->
            assertTrue(schema.matterCode().isNotEmpty(), "matterCode")
            assertTrue("phone" in schema.fieldIds(), "phone is a field")
            Draft(schema, NOW).use { draft ->
                assertEquals(schema.matterCode(), draft.matterCode(), "draft matterCode")
                draft.set(schema, "phone", "\"13800138000\"")
                assertEquals("\"13800138000\"", draft.value("phone"), "phone value")
                assertTrue(draft.save(NOW) >= 0u, "save")
                assertEquals(1u, draft.revisionCount(), "revisions")
                val problems = draft.validate(schema, "2026-11-22")
                assertTrue(problems.isNotEmpty(), "an incomplete draft has problems")
                assertTrue(problems.all { it.code.startsWith("YW-16") }, "codes ${problems.map { it.code }} are YW-16xx")
                assertTrue(problems.none { it.path.contains("phone") && it.code == "YW-1614" }, "valid phone accepted")
                assertTrue(problems.any { it.code == "YW-1601" && it.path.contains("name") }, "name required (YW-1601)")
                assertTrue(problems.all { it.messageZh.isNotEmpty() && it.messageEn.isNotEmpty() }, "messages present")
            }
        }
    }

    test("forms: bad phone is YW-1614") {
        FormSchema.fromJson(seniorCardJson()).use { schema ->
            Draft(schema, NOW).use { draft ->
                draft.set(schema, "phone", "\"12345\"")
                val problems = draft.validate(schema, "2026-11-22")
                assertTrue(
                    problems.any { it.code == "YW-1614" && it.path.contains("phone") },
                    "YW-1614 on phone in $problems",
                )
            }
        }
    }

    test("forms: unknown field throws InvalidInput") {
        FormSchema.fromJson(seniorCardJson()).use { schema ->
            Draft(schema, NOW).use { draft ->
                val e = assertThrows<YiwangException.InvalidInput>("set") { draft.set(schema, "no_such_field", "1") }
                assertEquals("YW-1551", e.code, "code")
                val bad = assertThrows<YiwangException.InvalidInput>("set non-JSON") { draft.set(schema, "phone", "not json") }
                assertEquals("YW-1553", bad.code, "code")
            }
        }
    }

    test("forms: invalid schema JSON throws InvalidInput") {
        assertThrows<YiwangException.InvalidInput>("fromJson") { FormSchema.fromJson("{}") }
    }
}
