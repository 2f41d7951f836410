//! Clients of the push providers (APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo).
