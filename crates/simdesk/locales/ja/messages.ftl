# simdesk お客さまへのお知らせ — 日本語
# イベントごとに SMS、メール件名、メール本文（テキスト）を一つずつ用意します。
# お客さまの氏名やパスポート番号は、どのメッセージにも含めません。

## registration: $msisdn, $plan

registration-sms = 【simdesk】回線 { $msisdn }（{ $plan }）の登録と本人確認が完了しました。
registration-subject = 【simdesk】回線登録完了のお知らせ（{ $msisdn }）
registration-body =
    simdesk をご利用いただき、ありがとうございます。

    回線 { $msisdn }（{ $plan }）をお客さまのご契約として登録しました。法令に基づく本人確認も完了しています。

    回線が開通しましたら、ご利用期限とあわせて改めてお知らせします。

    お心当たりのない場合は、simdesk サポートダイヤルまたは店舗までご連絡ください。

    — simdesk カスタマーデスク

## activation: $msisdn, $valid_until

activation-sms = 【simdesk】回線 { $msisdn } が開通しました。有効期限は { $valid_until }（日本時間）です。
activation-subject = 【simdesk】回線開通のお知らせ（{ $msisdn }）
activation-body =
    回線 { $msisdn } が開通し、ご利用いただけるようになりました。

    有効期限は { $valid_until }（日本時間）です。期限が近づきましたら、改めてお知らせします。

    残高と有効期限は、simdesk からの SMS に「残高」または「BAL」と返信すると、いつでもご確認いただけます。

    よいご旅行を。

    — simdesk カスタマーデスク

## validity_reminder: $msisdn, $valid_until, $hours

validity_reminder-sms = 【simdesk】回線 { $msisdn } の有効期限は { $valid_until }（日本時間）、約{ $hours }時間後です。期限後は残高確認と解約のみ可能です。
validity_reminder-subject = 【simdesk】有効期限が近づいています（{ $msisdn }）
validity_reminder-body =
    回線 { $msisdn } の有効期限は { $valid_until }（日本時間）で、残り約{ $hours }時間です。

    期限を過ぎると回線はご利用いただけなくなります。猶予期間中は残高の確認と解約（残高の返金）が可能です。チャージ残高は有効期限を延長しませんので、期限までにご利用ください。

    — simdesk カスタマーデスク

## expired: $msisdn, $grace_until

expired-sms = 【simdesk】回線 { $msisdn } の有効期限が終了しました。{ $grace_until } までは残高確認と解約（残額返金）ができます。
expired-subject = 【simdesk】有効期限終了のお知らせ（{ $msisdn }）
expired-body =
    回線 { $msisdn } の有効期限が終了したため、通話・SMS・データ通信はご利用いただけなくなりました。

    { $grace_until }（日本時間）までは猶予期間です。この間は残高をご確認いただけます。また、回線を解約されると、残額を simdesk の電子ウォレットに返金します。

    猶予期間が過ぎると、回線は終了となります。

    — simdesk カスタマーデスク

## cancellation_received: $msisdn

cancellation_received-sms = 【simdesk】回線 { $msisdn } の解約のお申し込みを受け付けました。結果は改めてお知らせします。
cancellation_received-subject = 【simdesk】解約お申し込み受付のお知らせ（{ $msisdn }）
cancellation_received-body =
    回線 { $msisdn } の解約のお申し込みを受け付けました。

    内容を確認のうえ、承認の可否と解約の発効日をお知らせします。ご本人確認が必要な場合は、こちらからご連絡します。

    お心当たりのない場合は、至急 simdesk サポートダイヤルまたは店舗までご連絡ください。

    — simdesk カスタマーデスク

## cancellation_approved: $msisdn, $effective_date

cancellation_approved-sms = 【simdesk】回線 { $msisdn } の解約を承認しました。{ $effective_date }（日本時間）に発効します。それまでに利用停止となる場合があります。
cancellation_approved-subject = 【simdesk】解約承認のお知らせ（{ $msisdn }）
cancellation_approved-body =
    回線 { $msisdn } の解約のお申し込みを承認しました。

    解約は { $effective_date }（日本時間）に発効します。それまでの間に回線の利用を停止する場合がありますので、通話・SMS・データ通信にはご利用にならないでください。

    解約の発効後、返金がある場合は simdesk の電子ウォレットに入金し、電子署名付きの解約証明書をお送りします。

    — simdesk カスタマーデスク

## cancellation_rejected: $msisdn, $reason

cancellation_rejected-sms = 【simdesk】回線 { $msisdn } の解約を承認できませんでした（理由：{ $reason }）。サポートダイヤルか店舗へお問い合わせください。
cancellation_rejected-subject = 【simdesk】解約お申し込みについてのお知らせ（{ $msisdn }）
cancellation_rejected-body =
    誠に申し訳ございませんが、回線 { $msisdn } の解約のお申し込みを承認できませんでした。

    理由：{ $reason }

    回線はこれまでどおりの状態です。今後のお手続きについては、simdesk サポートダイヤルまたは店舗までお問い合わせください。

    — simdesk カスタマーデスク

## cancellation_withdrawn: $msisdn

cancellation_withdrawn-sms = 【simdesk】回線 { $msisdn } の解約のお申し込みは取り下げられました。回線はそのままご利用いただけます。
cancellation_withdrawn-subject = 【simdesk】解約お申し込み取り下げのお知らせ（{ $msisdn }）
cancellation_withdrawn-body =
    回線 { $msisdn } の解約のお申し込みは取り下げられました。回線は残高・有効期間ともにお申し込み前の状態のままです。

    お心当たりのない場合は、至急 simdesk サポートダイヤルまたは店舗までご連絡ください。

    — simdesk カスタマーデスク

## cancellation_completed: $msisdn, $receipt_number, $refund, $receipt_url

cancellation_completed-sms = 【simdesk】回線 { $msisdn } の解約が完了し、{ $refund } を電子ウォレットに返金しました。証明書 { $receipt_number }：{ $receipt_url }
cancellation_completed-subject = 【simdesk】解約完了のお知らせ（{ $msisdn }）
cancellation_completed-body =
    回線 { $msisdn } の解約が完了しました。

    返金額 { $refund } を simdesk の電子ウォレットに入金しました。電子ウォレットから払い戻しを受けることができます。

    解約証明書番号：{ $receipt_number }
    電子署名付きの解約証明書：{ $receipt_url }

    SIMカードは破棄していただいて構いません。eSIMの場合は、端末から削除してください。

    お客さまの個人情報は、法令で定められた期間のみ保管し、その後消去します。

    simdesk をご利用いただき、ありがとうございました。

    — simdesk カスタマーデスク

## refund_credited: $msisdn, $amount

refund_credited-sms = 【simdesk】回線 { $msisdn } の返金 { $amount } を simdesk の電子ウォレットに入金しました。
refund_credited-subject = 【simdesk】返金のお知らせ（{ $amount }）
refund_credited-body =
    回線 { $msisdn } の返金 { $amount } を、simdesk の電子ウォレットに入金しました。

    入金内容は simdesk のポータルでご確認いただけます。クレジットカードまたは銀行口座への払い戻しも、ポータルからお申し込みいただけます。

    — simdesk カスタマーデスク

## payout_sent: $amount, $reference

payout_sent-sms = 【simdesk】電子ウォレットから { $amount } を送金しました。送金番号：{ $reference }
payout_sent-subject = 【simdesk】払い戻し送金のお知らせ（{ $amount }）
payout_sent-body =
    simdesk の電子ウォレットから { $amount } を送金しました。

    送金番号：{ $reference }

    金融機関やカード会社によっては、ご入金の反映まで数営業日かかる場合があります。それ以上経っても反映されない場合は、上記の送金番号を添えて simdesk サポートダイヤルまでお問い合わせください。

    — simdesk カスタマーデスク

## one_time_code: $code, $minutes

one_time_code-sms = 【simdesk】ワンタイムコード：{ $code }（有効期限{ $minutes }分）。他人に教えないでください。当社スタッフがお尋ねすることはありません。
one_time_code-subject = 【simdesk】ワンタイムコードのお知らせ
one_time_code-body =
    simdesk のワンタイムコードは次のとおりです。

    { $code }

    有効期限は{ $minutes }分間です。

    このコードは誰にも教えないでください。simdesk のスタッフがコードをお尋ねすることは決してありません。お心当たりのない場合は、このメールを破棄してください。

    — simdesk カスタマーデスク

## data_erased: $kept_until

data_erased-sms = 【simdesk】お客さまの個人情報を消去しました。法令で保存が必要な本人確認記録は { $kept_until } まで保管後、消去します。
data_erased-subject = 【simdesk】個人情報消去のお知らせ
data_erased-body =
    simdesk が保有していたお客さまの個人情報を消去しました。

    ただし、法律で保存が義務付けられている本人確認の記録は、{ $kept_until } まで厳重に保管し、その後消去します。この記録をほかの目的に使用することはありません。

    — simdesk カスタマーデスク

## data_threshold: $msisdn, $percent, $left_mb

data_threshold-sms = 【simdesk】回線 { $msisdn } のデータ通信量が { $percent }% に達しました。残り { $left_mb } MB です。チャージまたはデータ追加でご利用を続けられます。
data_threshold-subject = 【simdesk】データ通信量が { $percent }% に達しました（{ $msisdn }）
data_threshold-body =
    回線 { $msisdn } のデータ通信量が { $percent }% に達しました。残りは { $left_mb } MB です。

    データ残量がなくなると、チャージまたはデータ追加まではデータ通信が止まります。通話とSMSには影響ありません。

    — simdesk カスタマーデスク

## data_barred: $msisdn

data_barred-sms = 【simdesk】回線 { $msisdn } のデータ残量がなくなりました。チャージまたはデータ追加までデータ通信は停止します。通話とSMSはご利用いただけます。
data_barred-subject = 【simdesk】データ残量がなくなりました（{ $msisdn }）
data_barred-body =
    回線 { $msisdn } でお支払いできるデータ通信量をすべて使い切りました。

    チャージまたはデータ追加までデータ通信は停止します。有効期間中、通話とSMSは引き続きご利用いただけます。

    — simdesk カスタマーデスク

## data_slowed: $msisdn

data_slowed-sms = 【simdesk】回線 { $msisdn } のデータ残量がなくなりました。チャージまたはデータ追加までデータ通信は低速になります。通話とSMSはご利用いただけます。
data_slowed-subject = 【simdesk】データ残量がなくなりました（{ $msisdn }）
data_slowed-body =
    回線 { $msisdn } でお支払いできるデータ通信量をすべて使い切りました。

    チャージまたはデータ追加までデータ通信は低速になります。有効期間中、通話とSMSは引き続きご利用いただけます。

    — simdesk カスタマーデスク

## SMS キーワードへの返信

reply-balance = 【simdesk】回線 { $msisdn } の残高は { $balance }、有効期限は { $valid_until }（日本時間）です。
reply-cancel = 【simdesk】解約のお手続きは、サポートダイヤル、店舗、またはオンラインで承ります：{ $portal_url }
reply-help = 【simdesk】残高・有効期限の確認は「残高」または「BAL」、解約方法のご案内は「解約」または「CANCEL」と返信してください。
reply-unknown-line = 【simdesk】この電話番号は simdesk が管理する回線ではありません。SIMをご購入された販売店へお問い合わせください。
