# simdesk 解約証明書 — 日本語

receipt-title = 解約証明書
receipt-number = 証明書番号
receipt-carrier = 通信事業者
receipt-effective-date = 解約日
receipt-usage-counted-until = 利用量の集計時点
receipt-issued = 発行日時
receipt-request = 申請番号
receipt-channel = 受付窓口
receipt-customer = お客様番号
receipt-line = 回線
receipt-iccid = ICCID
receipt-msisdn = 電話番号
receipt-plan = 料金プラン
receipt-addons-unbound = 解除されたオプション
receipt-none = なし
receipt-refund = 返金
receipt-refund-rule = 返金規定
receipt-refund-items = 返金明細
receipt-total = 合計
receipt-credited-to = 返金先
receipt-policy-version = 規約バージョン
receipt-signature = 電子署名
receipt-key-id = 鍵ID
receipt-verify = この証明書は JSON ファイルに対して { $command } を実行すると検証できます。

receipt-channel-web = ウェブ（セルフサービス）
receipt-channel-hotline = 電話窓口
receipt-channel-store = 店舗カウンター
receipt-channel-api = 事業者システム（API）
receipt-channel-operator = 事業者担当者
receipt-channel-system = 自動処理（simdesk）

receipt-rule-full = 残額を全額返金
receipt-rule-pro_rata = 残りの有効期間に応じた日割り返金
receipt-rule-fee_and_minimum = 残額から解約手数料を差し引いて返金（最低額未満は返金なし）
receipt-rule-none = 返金なし

receipt-credited-e-wallet = お客様の simdesk 電子ウォレット
receipt-credited-nothing-due = 返金対象はありません
