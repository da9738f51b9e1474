# simdesk 旅客通知 — 繁體中文
# 每個事件各有一則簡訊、一個郵件主旨及一封純文字郵件內文。
# 任何訊息皆不得包含旅客的姓名或護照號碼。

## registration: $msisdn, $plan

registration-sms = 【simdesk】門號 { $msisdn }（{ $plan }）已登記於您名下，實名登記已完成。
registration-subject = 【simdesk】門號登記完成（{ $msisdn }）
registration-body =
    感謝您選擇 simdesk。

    門號 { $msisdn }（{ $plan }）已登記於您名下，日本法律規定的實名登記亦已完成。

    門號開通後，我們將通知您開通狀態及有效期限。

    若非您本人申辦，請聯絡 simdesk 客服專線或門市。

    — simdesk 客服中心

## activation: $msisdn, $valid_until

activation-sms = 【simdesk】您的門號 { $msisdn } 已開通，有效期限至 { $valid_until }（日本時間）。祝您旅途愉快！
activation-subject = 【simdesk】門號已開通（{ $msisdn }）
activation-body =
    您的門號 { $msisdn } 已開通，現在即可使用。

    有效期限至 { $valid_until }（日本時間）。到期前我們會提醒您。

    如需查詢餘額與有效期限，可隨時以簡訊回覆 simdesk「餘額」或「BAL」。

    祝您旅途愉快。

    — simdesk 客服中心

## validity_reminder: $msisdn, $valid_until, $hours

validity_reminder-sms = 【simdesk】您的門號 { $msisdn } 將於 { $valid_until }（日本時間）到期，剩餘約 { $hours } 小時。到期後僅可查詢餘額及註銷。
validity_reminder-subject = 【simdesk】門號即將到期（{ $msisdn }）
validity_reminder-body =
    您的門號 { $msisdn } 有效期限至 { $valid_until }（日本時間），距今約 { $hours } 小時。

    到期後門號將停止使用。寬限期內仍可查詢餘額，並可申請註銷以退還剩餘餘額。儲值不會延長有效期限，請於到期前使用。

    — simdesk 客服中心

## expired: $msisdn, $grace_until

expired-sms = 【simdesk】您的門號 { $msisdn } 已到期。{ $grace_until } 前仍可查詢餘額，註銷門號即可退還剩餘金額。
expired-subject = 【simdesk】門號已到期（{ $msisdn }）
expired-body =
    您的門號 { $msisdn } 已到期，無法再使用通話、簡訊及行動上網服務。

    此門號目前處於寬限期，直至 { $grace_until }（日本時間）。在此期間，您可查詢餘額；若註銷門號，剩餘金額將退還至您的 simdesk 電子錢包。

    寬限期結束後，此門號將關閉。

    — simdesk 客服中心

## cancellation_received: $msisdn

cancellation_received-sms = 【simdesk】我們已收到您註銷門號 { $msisdn } 的申請，審核後將通知您結果。
cancellation_received-subject = 【simdesk】已收到註銷申請（{ $msisdn }）
cancellation_received-body =
    我們已收到您註銷門號 { $msisdn } 的申請。

    審核後，我們將通知您是否核准及註銷的生效日期。如需確認您的身分，我們會與您聯絡。

    若此申請並非由您本人提出，請立即聯絡 simdesk 客服專線或門市。

    — simdesk 客服中心

## cancellation_approved: $msisdn, $effective_date

cancellation_approved-sms = 【simdesk】門號 { $msisdn } 的註銷申請已核准，將於 { $effective_date }（日本時間）生效，在此之前門號可能被停話。
cancellation_approved-subject = 【simdesk】註銷申請已核准（{ $msisdn }）
cancellation_approved-body =
    您註銷門號 { $msisdn } 的申請已獲核准。

    註銷將於 { $effective_date }（日本時間）生效。在此之前門號可能已被停話，請勿再使用此門號通話、傳送簡訊或上網。

    註銷生效後，如有退款將存入您的 simdesk 電子錢包，我們也會寄送附電子簽章的憑證給您。

    — simdesk 客服中心

## cancellation_rejected: $msisdn, $reason

cancellation_rejected-sms = 【simdesk】很抱歉，門號 { $msisdn } 的註銷申請未獲核准（原因：{ $reason }）。請聯絡客服專線或門市。
cancellation_rejected-subject = 【simdesk】註銷申請未獲核准（{ $msisdn }）
cancellation_rejected-body =
    很抱歉，您註銷門號 { $msisdn } 的申請未獲核准。

    原因：{ $reason }

    您的門號狀態維持不變。請聯絡 simdesk 客服專線或親臨門市，我們將協助您辦理後續手續。

    — simdesk 客服中心

## cancellation_withdrawn: $msisdn

cancellation_withdrawn-sms = simdesk：門號 { $msisdn } 的註銷申請已撤回，門號維持原狀。
cancellation_withdrawn-subject = 門號 { $msisdn } 的註銷申請已撤回
cancellation_withdrawn-body =
    門號 { $msisdn } 的註銷申請已撤回。門號的餘額與有效期間均維持申請前的狀態。

    如非您本人操作，請立即聯絡 simdesk 客服專線或前往 simdesk 門市。

    — simdesk 客服中心

## cancellation_completed: $msisdn, $receipt_number, $refund, $receipt_url

cancellation_completed-sms = 【simdesk】門號 { $msisdn } 已註銷，{ $refund } 已退至您的電子錢包。憑證 { $receipt_number }：{ $receipt_url }
cancellation_completed-subject = 【simdesk】門號註銷完成（{ $msisdn }）
cancellation_completed-body =
    您的門號 { $msisdn } 已註銷。

    退款 { $refund } 已存入您的 simdesk 電子錢包，您可從電子錢包申請提領。

    憑證號碼：{ $receipt_number }
    附電子簽章的憑證：{ $receipt_url }

    您現在可以丟棄 SIM 卡，或從手機中移除 eSIM。

    您的個人資料僅於法律規定的期間內保存，期滿後即予刪除。

    感謝您使用 simdesk。

    — simdesk 客服中心

## refund_credited: $msisdn, $amount

refund_credited-sms = 【simdesk】門號 { $msisdn } 的退款 { $amount } 已存入您的 simdesk 電子錢包。
refund_credited-subject = 【simdesk】退款已入帳（{ $amount }）
refund_credited-body =
    門號 { $msisdn } 的退款 { $amount } 已存入您的 simdesk 電子錢包。

    您可在 simdesk 自助服務網站查看，並申請提領至您的信用卡或銀行帳戶。

    — simdesk 客服中心

## payout_sent: $amount, $reference

payout_sent-sms = 【simdesk】您電子錢包中的 { $amount } 已匯出。匯款參考編號：{ $reference }
payout_sent-subject = 【simdesk】提領款項已匯出（{ $amount }）
payout_sent-body =
    您 simdesk 電子錢包中的 { $amount } 已匯出。

    匯款參考編號：{ $reference }

    視您的銀行或發卡機構而定，入帳可能需要數個工作天。若屆時仍未入帳，請聯絡 simdesk 客服專線並提供上述參考編號。

    — simdesk 客服中心

## one_time_code: $code, $minutes

one_time_code-sms = 【simdesk】您的驗證碼為 { $code }，{ $minutes } 分鐘內有效。請勿告知他人，本公司人員絕不會向您索取。
one_time_code-subject = 【simdesk】您的驗證碼
one_time_code-body =
    您的 simdesk 驗證碼為：

    { $code }

    此驗證碼於 { $minutes } 分鐘內有效。

    請勿將驗證碼告知任何人。simdesk 工作人員絕不會向您索取驗證碼。若非您本人操作，請忽略此郵件。

    — simdesk 客服中心

## data_erased: $kept_until

data_erased-sms = 【simdesk】您的個人資料已刪除。法律規定須保存的身分驗證紀錄將保存至 { $kept_until }，之後刪除。
data_erased-subject = 【simdesk】您的個人資料已刪除
data_erased-body =
    我們已刪除 simdesk 所保存的您的個人資料。

    依日本法律規定，身分驗證紀錄須保存一定期間。我們將妥善保管至 { $kept_until }，之後予以刪除，且不會用於任何其他目的。

    — simdesk 客服中心

## data_threshold: $msisdn, $percent, $left_mb

data_threshold-sms = 【simdesk】您的門號 { $msisdn } 已使用 { $percent }% 的數據流量，剩餘 { $left_mb } MB。儲值或購買流量包即可繼續使用。
data_threshold-subject = 【simdesk】數據流量已使用 { $percent }%（{ $msisdn }）
data_threshold-body =
    您的門號 { $msisdn } 已使用 { $percent }% 的數據流量，剩餘 { $left_mb } MB。

    流量用完後，在儲值或購買流量包之前將無法使用數據。通話及簡訊不受影響。

    — simdesk 客服中心

## data_barred: $msisdn

data_barred-sms = 【simdesk】您的門號 { $msisdn } 數據流量已用完。在儲值或購買流量包之前，數據將暫停；通話及簡訊仍可使用。
data_barred-subject = 【simdesk】數據流量已用完（{ $msisdn }）
data_barred-body =
    您的門號 { $msisdn } 已用完可支付的全部數據流量。

    在儲值或購買流量包之前，數據將暫停。 有效期限內通話及簡訊仍可使用。

    — simdesk 客服中心

## data_slowed: $msisdn

data_slowed-sms = 【simdesk】您的門號 { $msisdn } 數據流量已用完。在儲值或購買流量包之前，數據將降為低速；通話及簡訊仍可使用。
data_slowed-subject = 【simdesk】數據流量已用完（{ $msisdn }）
data_slowed-body =
    您的門號 { $msisdn } 已用完可支付的全部數據流量。

    在儲值或購買流量包之前，數據將降為低速。 有效期限內通話及簡訊仍可使用。

    — simdesk 客服中心

## 簡訊關鍵字回覆

reply-balance = 【simdesk】門號 { $msisdn } 餘額 { $balance }，有效期限至 { $valid_until }（日本時間）。
reply-cancel = 【simdesk】如需註銷門號，請聯絡客服專線或親臨門市，亦可線上辦理：{ $portal_url }
reply-help = 【simdesk】查詢餘額及有效期限請回覆「餘額」或「BAL」，了解註銷方式請回覆「註銷」或「CANCEL」。
reply-unknown-line = 【simdesk】此號碼並非 simdesk 管理的門號。請洽詢向您販售 SIM 卡的店家。
