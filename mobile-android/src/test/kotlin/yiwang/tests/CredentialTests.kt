package yiwang.tests

import yiwang.AssuranceMode
import yiwang.YiwangException
import yiwang.verifyPresentation

fun credentialTests(fx: Fixture) {
    test("keystore: Kotlin store passes through YW-1201 for an unknown alias") {
        val e = assertThrows<YiwangException.KeyStore>("publicKey") { fx.keyStore.publicKey("no-such-key") }
        assertEquals("YW-1201", e.code, "code")
    }

    test("credential: issue, present through the Kotlin key store, verify") {
        assertEquals("张三", fx.credential.claim("name"), "claim(name)")
        assertTrue(fx.credential.networkId() != null, "networkId present")
        val signsBefore = fx.keyStore.signs.get()
        val presentation = fx.credential.present(fx.request(), fx.keyStore, "device", NOW)
        assertTrue(fx.keyStore.signs.get() > signsBefore, "Rust called KotlinKeyStore.sign")
        assertTrue(presentation.text.startsWith("YW1:"), "text starts with YW1:")

        val qr = presentation.qr
        assertEquals(qr.modules.size, (qr.width * qr.width).toInt(), "width*width == modules.size")
        assertTrue(qr.version.toInt() in 1..15, "QR version ${qr.version} <= 15")

        val verified = verifyPresentation(presentation.text, fx.policy())
        assertEquals("张*", verified.claims["name_masked"], "claims[name_masked]")
        assertEquals("1101**********002X", verified.claims["id_number_masked"], "claims[id_number_masked]")
        assertTrue("age_over_18" in verified.derived, "derived ${verified.derived} contains age_over_18")
        assertEquals(AssuranceMode.PIN, verified.mode, "mode")
        assertEquals(NOW, verified.presentedAt, "presentedAt")
        assertTrue(!verified.claims.containsKey("name"), "full name not disclosed")
    }

    test("keystore: a Kotlin KeyStore error crosses Rust and back (present with a missing alias)") {
        val e = assertThrows<YiwangException.KeyStore>("present") {
            fx.credential.present(fx.request(), fx.keyStore, "no-such-device-key", NOW)
        }
        assertEquals("YW-1201", e.code, "code")
    }

    test("keystore: an unexpected Kotlin exception in a callback is KeyStore YW-1205 (wrapping YW-9001)") {
        val broken = object : yiwang.PlatformKeyStore by fx.keyStore {
            override fun sign(alias: String, message: ByteArray): ByteArray = throw IllegalStateException("boom")
        }
        // uniffi turns the exception into YiwangError::Internal (YW-9001); the
        // key store adapter reports any other platform failure as YW-1205.
        val e = assertThrows<YiwangException.KeyStore>("present") {
            fx.credential.present(fx.request(), broken, "device", NOW)
        }
        assertEquals("YW-1205", e.code, "code")
        assertTrue(e.message.orEmpty().contains("YW-9001"), "message mentions YW-9001")
    }

    test("rejected: wrong audience is YW-1411") {
        val text = fx.presentText()
        val e = assertThrows<YiwangException.Rejected>("verify") {
            verifyPresentation(text, fx.policy(audience = "window:2"))
        }
        assertEquals("YW-1411", e.code, "code")
    }

    test("rejected: stale presentation is YW-1409") {
        val text = fx.presentText()
        val e = assertThrows<YiwangException.Rejected>("verify") {
            verifyPresentation(text, fx.policy(now = NOW + 600))
        }
        assertEquals("YW-1409", e.code, "code")
    }

    test("rejected: revoked by a status list is YW-1413") {
        val status = fx.issuer.signStatusList(listOf(0u), NOW, 3600u)
        val text = fx.presentText()
        val e = assertThrows<YiwangException.Rejected>("verify") {
            verifyPresentation(text, fx.policy(statusLists = listOf(status)))
        }
        assertEquals("YW-1413", e.code, "code")
        // A list revoking someone else lets it through.
        val other = fx.issuer.signStatusList(listOf(5u), NOW, 3600u)
        verifyPresentation(text, fx.policy(statusLists = listOf(other)))
    }

    test("rejected: garbage text is YW-1401") {
        val e = assertThrows<YiwangException.Rejected>("verify") {
            verifyPresentation("hello, not a presentation", fx.policy())
        }
        assertEquals("YW-1401", e.code, "code")
    }
}
