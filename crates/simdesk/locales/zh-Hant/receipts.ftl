# simdesk 註銷憑證 — 繁體中文

receipt-title = 註銷憑證
receipt-number = 憑證編號
receipt-carrier = 電信業者
receipt-effective-date = 生效日期
receipt-usage-counted-until = 用量統計截至
receipt-issued = 簽發時間
receipt-request = 申請編號
receipt-channel = 受理管道
receipt-customer = 客戶編號
receipt-line = 線路
receipt-iccid = ICCID
receipt-msisdn = 電話號碼
receipt-plan = 資費方案
receipt-addons-unbound = 已解除的附加服務
receipt-none = 無
receipt-refund = 退款
receipt-refund-rule = 退款規則
receipt-refund-items = 退款明細
receipt-total = 合計
receipt-credited-to = 退款至
receipt-policy-version = 政策版本
receipt-signature = 數位簽章
receipt-key-id = 金鑰 ID
receipt-verify = 對本憑證的 JSON 檔案執行 { $command } 即可驗證。

receipt-channel-web = 網頁（自助服務）
receipt-channel-hotline = 客服專線
receipt-channel-store = 門市櫃檯
receipt-channel-api = 電信業者系統（API）
receipt-channel-operator = 電信業者人員
receipt-channel-system = 自動處理（simdesk）

receipt-rule-full = 全額退還剩餘金額
receipt-rule-pro_rata = 依剩餘有效期比例退款
receipt-rule-fee_and_minimum = 剩餘金額扣除註銷手續費後退款（低於最低金額不予退款）
receipt-rule-none = 不退款

receipt-credited-e-wallet = 您的 simdesk 電子錢包
receipt-credited-nothing-due = 無應退款項
