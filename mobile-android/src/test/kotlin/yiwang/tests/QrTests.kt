package yiwang.tests

import yiwang.ScannedCode
import yiwang.classifyScan
import yiwang.decodeQrPng
import yiwang.renderQrPng

private val PNG_MAGIC = byteArrayOf(0x89.toByte(), 'P'.code.toByte(), 'N'.code.toByte(), 'G'.code.toByte(), 0x0d, 0x0a, 0x1a, 0x0a)

fun qrTests(fx: Fixture) {
    test("qr: renderQrPng then decodeQrPng round-trips a presentation") {
        val text = fx.presentText()
        val png = renderQrPng(text, 4u)
        assertTrue(png.size > PNG_MAGIC.size && png.copyOfRange(0, PNG_MAGIC.size).contentEquals(PNG_MAGIC), "PNG magic")
        // decodeQrPng is a suspend function: decoding runs off the caller's thread.
        assertEquals(listOf(text), kotlinx.coroutines.runBlocking { decodeQrPng(png) }, "decoded")
    }

    test("scan: classifyScan presentation, login, service link, unknown") {
        val text = fx.presentText()
        assertEquals(ScannedCode.Presentation(text), classifyScan(text), "presentation")
        assertEquals(
            ScannedCode.LoginRequest("https://gov.example", "abcdefghijklmnop"),
            classifyScan("yiwang://login?server=https://gov.example&session=abcdefghijklmnop"),
            "login",
        )
        assertEquals(ScannedCode.ServiceLink("ABC-1"), classifyScan("yiwang://service/ABC-1"), "service link")
        val unknown = classifyScan("hello")
        assertTrue(unknown is ScannedCode.Unknown, "hello is Unknown, got $unknown")
        assertTrue((unknown as ScannedCode.Unknown).code.startsWith("YW-131"), "unknown code ${unknown.code}")
    }
}
