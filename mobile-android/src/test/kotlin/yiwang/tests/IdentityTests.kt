package yiwang.tests

import yiwang.YiwangException
import yiwang.checkIdentity
import yiwang.maskName
import yiwang.parseIdNumber

fun identityTests() {
    test("identity: parseIdNumber fields") {
        val info = parseIdNumber(ID_NUMBER)
        assertEquals("1101**********002X", info.masked, "masked")
        assertEquals("1949-12-31", info.birthDate, "birthDate")
        assertEquals("female", info.sex, "sex")
        assertEquals("北京市", info.province, "province")
        assertEquals("110105", info.regionCode, "regionCode")
    }

    test("identity: bad number throws InvalidInput YW-10xx") {
        val e = assertThrows<YiwangException.InvalidInput>("parseIdNumber") {
            parseIdNumber("110105194912310021") // wrong check digit
        }
        assertTrue(e.code.startsWith("YW-10"), "code ${e.code} starts with YW-10")
    }

    test("identity: checkIdentity id number, USCC, garbage") {
        val id = checkIdentity(ID_NUMBER)
        assertEquals("id_number", id.kind, "kind")
        assertTrue(id.valid, "id number valid")
        assertEquals("1101**********002X", id.masked, "masked")
        assertEquals(null, id.errorCode, "errorCode")

        val uscc = checkIdentity("91350100M000100Y43")
        assertEquals("uscc", uscc.kind, "kind")
        assertTrue(uscc.valid, "USCC valid")
        assertTrue(uscc.masked != null, "USCC masked present")

        val garbage = checkIdentity("hello world")
        assertEquals("unknown", garbage.kind, "kind")
        assertEquals(false, garbage.valid, "valid")
        assertEquals("YW-1000", garbage.errorCode, "errorCode")
    }

    test("identity: maskName") {
        assertEquals("张*", maskName("张三"))
    }
}
