"""Every sentence the bot says to citizens, in one place (what it says to the center's
staff is beside it, in bot/staff_texts.py).

The center's staff can review and edit the wording here without reading any other code.
Templates are filled with `str.format(**fields)`; the field names in braces must stay.
Keep sentences short: most citizens read them on a phone.
"""

from __future__ import annotations

# --- greeting, menu, contact ------------------------------------------------------------

GREETING = (
    "Xin chào! Đây là trợ lý tự động của {center_name}.\n"
    "Tôi có thể giúp bạn:\n"
    "• Hỏi thủ tục hành chính: cần giấy tờ gì, mất bao lâu, lệ phí, nộp ở đâu\n"
    "• Tra cứu hồ sơ bằng mã trên phiếu hẹn\n"
    "• Nhận thông báo của Trung tâm\n"
    "Bạn cứ gõ câu hỏi, ví dụ: “làm giấy khai sinh cần gì”."
)
CENTER_INFO_HEADING = "Thông tin liên hệ"
CENTER_INFO = "{center_name}\nĐịa chỉ: {address}\nGiờ làm việc: {hours}\nĐường dây nóng: {hotline}"
CENTER_EMAIL = "Email: {email}"
CENTER_WEBSITE = "Trang web: {website}"

MENU_ASK = "Hỏi thủ tục"
MENU_DOSSIER = "Tra cứu hồ sơ"
MENU_NOTICES = "Nhận thông báo"
MENU_CONTACT = "Liên hệ"

ASK_PROMPT = (
    "Bạn hãy gõ tên thủ tục hoặc việc cần làm, có dấu hay không dấu đều được.\n"
    "Ví dụ: “đổi bằng lái xe mất bao lâu”, “sang tên sổ đỏ lệ phí bao nhiêu”, "
    "“đăng ký tạm trú cần giấy tờ gì”."
)
HELP = (
    "Cách dùng:\n"
    "• Gõ câu hỏi về thủ tục, ví dụ “làm căn cước cần gì”.\n"
    "• Gửi mã hồ sơ trên phiếu hẹn để tra cứu, ví dụ 000.00.12.H58-251120-0001.\n"
    "• /thongbao để nhận thông báo, /huythongbao để thôi nhận.\n"
    "• /lienhe để xem địa chỉ, giờ làm việc và đường dây nóng."
)

# --- input problems ---------------------------------------------------------------------

EMPTY_MESSAGE = "Bạn chưa nhập nội dung. Hãy gõ câu hỏi về thủ tục hoặc mã hồ sơ cần tra cứu."
MESSAGE_TOO_LONG = (
    "Tin nhắn dài quá nên tôi chỉ đọc phần đầu. Bạn hãy hỏi ngắn gọn, mỗi lần một việc."
)
UNKNOWN_COMMAND = "Tôi không hiểu lệnh {command}. Gõ /help để xem cách dùng."
UNKNOWN_BUTTON = "Nút này đã cũ. Bạn hãy gõ lại câu hỏi nhé."
ERROR_APOLOGY = (
    "Xin lỗi, hệ thống đang gặp sự cố khi xử lý tin nhắn của bạn. "
    "Bạn vui lòng thử lại sau ít phút hoặc gọi đường dây nóng {hotline}."
)

# --- procedure answers ------------------------------------------------------------------

PROCEDURE_TITLE = "{name}"
PROCEDURE_SUBTITLE = "Mã thủ tục {code} · Lĩnh vực {field} · {handled}"
# Where a citizen does the procedure, said the way citizens say it (never "Cấp bộ" for
# something handed in at the province).
HANDLED_AT = "Nộp tại {places}"
HANDLED_CENTRAL = "Do cơ quan trung ương (bộ, cục) giải quyết"
PLACES_JOIN = " hoặc "
# The office a citizen goes to at each level, by the kind of agency the catalogue names
# (the first of these words in its agency text); "{center_name}" is the center itself.
PLACES_BY_AGENCY = {
    "công an": {
        "Cấp tỉnh": "Công an tỉnh",
        "Cấp huyện": "Công an cấp huyện",
        "Cấp xã": "Công an cấp xã",
    },
    "bảo hiểm xã hội": {
        "Cấp tỉnh": "Bảo hiểm xã hội tỉnh",
        "Cấp huyện": "Bảo hiểm xã hội cơ sở",
        "Cấp xã": "Bảo hiểm xã hội cơ sở",
    },
    "thuế": {"Cấp tỉnh": "Thuế tỉnh", "Cấp huyện": "Thuế cơ sở", "Cấp xã": "Thuế cơ sở"},
    "văn phòng đăng ký đất đai": {
        "Cấp tỉnh": "Văn phòng đăng ký đất đai",
        "Cấp huyện": "Chi nhánh Văn phòng đăng ký đất đai",
        "Cấp xã": "UBND cấp xã",
    },
    "đăng ký kinh doanh": {
        "Cấp tỉnh": "Phòng Đăng ký kinh doanh (Sở Tài chính)",
        "Cấp huyện": "UBND cấp huyện",
        "Cấp xã": "UBND cấp xã",
    },
    "ngân hàng nhà nước": {
        "Cấp tỉnh": "Ngân hàng Nhà nước Khu vực",
        "Cấp huyện": "Ngân hàng Nhà nước Khu vực",
        "Cấp xã": "Ngân hàng Nhà nước Khu vực",
    },
    "trợ giúp pháp lý": {
        "Cấp tỉnh": "Trung tâm trợ giúp pháp lý nhà nước",
        "Cấp huyện": "Trung tâm trợ giúp pháp lý nhà nước",
        "Cấp xã": "Trung tâm trợ giúp pháp lý nhà nước",
    },
}
PLACES_DEFAULT = {
    "Cấp tỉnh": "{center_name}",
    "Cấp huyện": "UBND cấp huyện",
    "Cấp xã": "UBND cấp xã",
}
HEADING_DOCUMENTS = "Giấy tờ cần chuẩn bị"
HEADING_PRESENT = "Giấy tờ cần xuất trình (mang bản chính để đối chiếu)"
HEADING_CASES = "Thêm giấy tờ nếu thuộc trường hợp sau"
HEADING_TIME = "Thời gian giải quyết"
HEADING_FEE = "Phí, lệ phí"
HEADING_WHERE = "Nộp hồ sơ ở đâu"
HEADING_STEPS = "Các bước thực hiện"
HEADING_ONLINE = "Nộp trực tuyến"
HEADING_RESULT = "Kết quả nhận được"
HEADING_CONDITIONS = "Điều kiện"
HEADING_APPLICANTS = "Ai được nộp"
DOCUMENT_LINE = "{number}. {name}"
DOCUMENT_QUANTITY = " — {quantity}"
DOCUMENT_FORM = " (mẫu: {form})"
DOCUMENTS_MORE = "… và {count} giấy tờ khác (xem đầy đủ tại {url})"
DOCUMENTS_ORIGINAL = "Theo danh mục gốc: {text}"
# Documents only some people need, under their case ("Trẻ bị bỏ rơi").
CASE_ONE = "• {case}: {document}"
CASE_HEADING = "• {case}:"
CASE_DOCUMENT = "   – {document}"
CASES_MORE = "… và {count} trường hợp khác (xem tại {url})"
DOCUMENTS_CASES_BRIEF = "Một số trường hợp cần thêm giấy tờ ({cases}); chọn “Giấy tờ” để xem."
FORMS_AT = "Mẫu đơn, tờ khai: tải tại {url}"
FORMS_BELOW = "Mẫu đơn, tờ khai: tải ở trang thủ tục (liên kết bên dưới)."
# Where the catalogue has no figure: one sentence, with where to find out.
GAP_DOCUMENTS = (
    "Danh mục chưa có danh sách giấy tờ của thủ tục này; "
    "bạn gọi đường dây nóng {hotline} hoặc xem {url}."
)
GAP_TIME = (
    "Danh mục chưa có thời hạn giải quyết cụ thể; bạn gọi đường dây nóng {hotline} hoặc xem {url}."
)
GAP_FEE = (
    "Danh mục chưa có mức phí, lệ phí cụ thể; bạn gọi đường dây nóng {hotline} hoặc xem {url}."
)
GAP_STEPS = (
    "Danh mục chưa có các bước của thủ tục này; bạn gọi đường dây nóng {hotline} hoặc xem {url}."
)
GAP_NAME_ONLY = (
    "Trung tâm mới có tên thủ tục này, chưa có giấy tờ, thời hạn và lệ phí; "
    "bạn gọi đường dây nóng {hotline} hoặc xem {url} để được hướng dẫn."
)
# A fee, time or rule with a validity period: before it starts, and while it runs.
DATED_FROM = "Từ {date}: {text}"
DATED_UNTIL = "{text} (áp dụng đến hết {date})"
TIME_CHANNEL = "• {method}: {time}"
TIME_ONLY = "{text}"
TIME_WORKING_DAYS = "{days} ngày làm việc"
FEE_LINE = "• {text}"
FEE_CHANNEL = "• {method}: {fee}"
WHERE_AGENCY = "Cơ quan giải quyết: {agency}"
WHERE_DEFAULT = "Nộp tại {center_name}, {address}."
WHERE_CHANNELS = "Cách nộp: {methods}."
STEP_LINE = "{number}. {text}"
ONLINE_FULL = "Thủ tục này làm trực tuyến toàn trình: nộp, theo dõi và nhận kết quả qua mạng."
ONLINE_PARTIAL = (
    "Thủ tục này nộp trực tuyến được một phần: nộp hồ sơ qua mạng, "
    "nhưng vẫn phải đến nhận kết quả hoặc nộp bản giấy."
)
ONLINE_OFFLINE = (
    "Thủ tục này hiện phải nộp trực tiếp hoặc qua bưu chính, chưa nộp trực tuyến được."
)
ONLINE_UNKNOWN = "Danh mục chưa ghi mức độ trực tuyến của thủ tục này."
ONLINE_LINK = "Nộp trực tuyến tại: {url}"
SOURCE_LINK = "Chi tiết: {url}"
ANSWER_OTHER_PARTS = "Bạn muốn xem thêm phần nào?"

BUTTON_DOCUMENTS = "Giấy tờ"
BUTTON_TIME = "Thời gian"
BUTTON_FEE = "Lệ phí"
BUTTON_WHERE = "Nơi nộp"
BUTTON_STEPS = "Các bước"
BUTTON_ONLINE = "Nộp online"
BUTTON_NOT_THIS = "Không phải thủ tục này"
BUTTON_HELPFUL = "👍 Hữu ích"
BUTTON_NOT_HELPFUL = "👎 Chưa đúng ý"
BUTTON_OPEN_ONLINE = "Mở trang nộp trực tuyến"
# The procedure's own page on the national portal (its forms are there).
BUTTON_PAGE = "Xem thủ tục, tải mẫu đơn"
BUTTON_PAGE_ONLINE = "Nộp trực tuyến, tải mẫu đơn"
BUTTON_FORM = "📝 Mẫu: {form}"

CLARIFY = "Bạn hỏi thủ tục nào dưới đây? Chọn một thủ tục, hoặc gõ lại câu hỏi rõ hơn."
CLARIFY_OTHERS = "Có thể bạn hỏi một trong các thủ tục sau:"
# The message describes a situation (a life event): its usual procedures are offered.
CLARIFY_EVENT = "Việc “{title}” thường cần một trong các thủ tục sau. Bạn chọn thủ tục cần hỏi:"
# Staff taught that this question is no matter of the center's procedures.
DECLINE_NOT_OURS = (
    "Câu hỏi này không thuộc các thủ tục hành chính mà Trung tâm giải quyết. "
    "Cần hỏi thêm, bạn gọi đường dây nóng {hotline}."
)
# A situation no procedure of the center handles: where it belongs.
DECLINE_REFER = "{refer}\nCần hỏi thêm, bạn gọi đường dây nóng {hotline}."
NO_OTHER_CANDIDATES = (
    "Tôi không tìm được thủ tục nào khác khớp với câu hỏi. "
    "Bạn hãy gõ lại rõ hơn, ví dụ nêu việc cần làm và loại giấy tờ, "
    "hoặc gọi đường dây nóng {hotline}."
)
NOTHING_TO_REJECT = "Bạn hãy gõ câu hỏi về thủ tục trước nhé."
# Words that name no procedure ("làm giấy tờ", "hỏi chút"): what to type instead.
VAGUE_QUESTION = (
    "Bạn cần làm thủ tục gì? Hãy gõ việc cần làm, ví dụ “làm giấy khai sinh cho con”, "
    "“cấp lại sổ đỏ bị mất”, “đổi bằng lái xe”; hoặc gửi mã hồ sơ để tra cứu."
)
FOLLOWUP_NEEDS_PROCEDURE = (
    "Bạn đang hỏi về thủ tục nào? Hãy gõ tên thủ tục, ví dụ “lệ phí đăng ký kết hôn”."
)

DECLINE_NO_MATCH = (
    "Xin lỗi, tôi chưa tìm được thủ tục phù hợp với câu hỏi của bạn.\n"
    "Bạn thử gõ tên việc cần làm, ví dụ “đăng ký thường trú”, “cấp lại sổ đỏ”, "
    "“đổi giấy phép lái xe”.\n"
    "Hoặc gọi đường dây nóng {hotline} để được cán bộ hướng dẫn."
)
DECLINE_GREETING = "Chào bạn! Bạn cần hỏi thủ tục gì, hay tra cứu hồ sơ? Gõ câu hỏi là được."
DECLINE_SMALL_TALK = (
    "Tôi chỉ trả lời về thủ tục hành chính và hồ sơ tại {center_name}. Bạn cần hỏi thủ tục gì?"
)
DECLINE_COMPLAINT = (
    "Cảm ơn bạn đã phản ánh. Để phản ánh, kiến nghị về cán bộ hoặc cách giải quyết hồ sơ, "
    "bạn vui lòng gọi đường dây nóng {hotline} hoặc gửi trên Cổng Dịch vụ công "
    "(mục Phản ánh kiến nghị). Tôi không tiếp nhận phản ánh qua kênh trò chuyện này."
)
DECLINE_PRIVATE_DATA = (
    "Tôi không thể cung cấp thông tin cá nhân của người khác. "
    "Nếu bạn là người nộp hồ sơ, hãy gửi mã hồ sơ trên phiếu hẹn để tra cứu."
)

FEEDBACK_THANKS = "Cảm ơn bạn đã góp ý!"
FEEDBACK_SORRY = (
    "Cảm ơn bạn. Tôi đã ghi lại để cán bộ bổ sung. Bạn có thể gõ lại câu hỏi theo cách khác, "
    "hoặc gọi {hotline}."
)

# --- dossiers ---------------------------------------------------------------------------

# "Hồ sơ của tôi tới đâu rồi" without a code: what to send, and where it is on the slip.
DOSSIER_ASK_CODE = (
    "Để xem hồ sơ đang ở bước nào, bạn gửi mã hồ sơ in ở phần trên của phiếu tiếp nhận và "
    "hẹn trả kết quả (dòng “Mã hồ sơ”), ví dụ 000.00.12.H58-251120-0001. Nếu phiếu có mã QR, "
    "bạn có thể chụp ảnh phiếu gửi vào đây."
)
THANKS_REPLY = "Không có gì ạ! Bạn cần hỏi thêm thủ tục nào cứ nhắn cho tôi nhé."
HUMAN_UNAVAILABLE = (
    "Trợ lý này là máy trả lời tự động. Để nói chuyện với cán bộ, bạn gọi đường dây nóng "
    "{hotline} hoặc đến {center_name}, {address} trong giờ làm việc ({hours})."
)
# --- talking to a person (bot.dialogue.handoff_flow) -----------------------------------
# To the citizen.
HUMAN_CLOSED = (
    "Bây giờ ngoài giờ làm việc nên chưa có cán bộ trực để trò chuyện. "
    "Trung tâm làm việc lại từ {opening}.\n"
    "Khi đó bạn nhắn “gặp cán bộ” tại đây, gọi đường dây nóng {hotline} hoặc đến "
    "{center_name}, {address}.\nGiờ làm việc: {hours}."
)
# Outside office hours, when no staff group takes hand-offs ([handoff] staff_group_id = 0).
HUMAN_CLOSED_CALL = (
    "Bây giờ ngoài giờ làm việc. Trung tâm làm việc lại từ {opening}.\n"
    "Khi đó bạn gọi đường dây nóng {hotline} hoặc đến {center_name}, {address}.\n"
    "Giờ làm việc: {hours}."
)
HUMAN_CLOSED_NO_OPENING = (
    "Bây giờ chưa có cán bộ trực để trò chuyện. Bạn gọi đường dây nóng {hotline} hoặc đến "
    "{center_name}, {address} trong giờ làm việc ({hours})."
)
# {opening}: "7:30 Thứ Hai, 07/09/2026"; weekday names Monday first.
OPENING_AT = "{time} {weekday}, {date}"
OPENING_TODAY = "{time} hôm nay"
WEEKDAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
HANDOFF_STARTED = (
    "Tôi đã chuyển cuộc trò chuyện tới cán bộ của {center_name} (số #{number}). "
    "Bạn cứ nhắn câu hỏi tại đây, cán bộ sẽ trả lời trong ít phút.\n"
    "Xin đừng gửi số điện thoại, số CCCD hay mật khẩu. Khi xong, bạn gõ “kết thúc” "
    "hoặc bấm nút bên dưới."
)
BUTTON_END_HANDOFF = "Kết thúc trò chuyện với cán bộ"
BUTTON_ASK_STAFF = "Hỏi cán bộ"
# After a question the bot could not match, in office hours with staff on the hand-off.
DECLINE_NO_MATCH_ASK_STAFF = (
    "Cán bộ của Trung tâm đang trực: bấm “Hỏi cán bộ” để chuyển câu hỏi này cho cán bộ "
    "trả lời ngay tại đây."
)
HANDOFF_STAFF_ANSWER = "Cán bộ trả lời:"
HANDOFF_ENDED_BY_CITIZEN = (
    "Đã kết thúc trò chuyện với cán bộ. Tôi (trợ lý tự động) tiếp tục trả lời câu hỏi "
    "về thủ tục và hồ sơ của bạn."
)
HANDOFF_ENDED_BY_STAFF = (
    "Cán bộ đã kết thúc cuộc trò chuyện. Cảm ơn bạn! Tôi (trợ lý tự động) tiếp tục trả lời "
    "câu hỏi của bạn; cần gặp cán bộ lần nữa, bạn nhắn “gặp cán bộ”."
)
HANDOFF_TIMED_OUT = (
    "Cuộc trò chuyện với cán bộ đã tự kết thúc vì không có tin nhắn mới trong {minutes} "
    "phút. Cần gặp cán bộ lần nữa, bạn nhắn “gặp cán bộ”; hoặc gọi {hotline}."
)
HANDOFF_NOT_DELIVERED = (
    "Xin lỗi, tin nhắn chưa chuyển được tới cán bộ. Bạn thử lại sau ít phút hoặc gọi "
    "đường dây nóng {hotline}."
)
HANDOFF_PHOTO_NOT_FORWARDED = (
    "Ảnh chưa chuyển được tới cán bộ; bạn mô tả bằng chữ giúp tôi (không gửi số CCCD "
    "hay số điện thoại)."
)
NOT_IN_HANDOFF = "Bạn đang không trò chuyện với cán bộ. Cần gặp cán bộ, bạn nhắn “gặp cán bộ”."
# To the staff group. The first line of every message about a hand-off names it as
# "#<number>": staff answer by replying to such a message, and the bot reads the number
# back from that first line (bot.dialogue.handoff_flow.HANDOFF_NUMBER).
STAFF_HANDOFF_OPENED = (
    "🙋 #{number} · {channel}: người dân muốn gặp cán bộ.\n"
    "Trả lời (Reply) một tin nhắn #{number} để trả lời người dân; "
    "trả lời bằng /xong để kết thúc."
)
STAFF_HANDOFF_MESSAGE = "💬 #{number} · {channel}"
STAFF_HANDOFF_UNANSWERED = "(câu hỏi trợ lý tự động chưa trả lời được)"
STAFF_HANDOFF_PHOTO = "(người dân gửi một ảnh; ảnh không được chuyển)"
STAFF_HANDOFF_CLOSED_BY_CITIZEN = "✅ #{number} · {channel}: người dân đã kết thúc trò chuyện."
STAFF_HANDOFF_CLOSED_BY_STAFF = "✅ #{number} · {channel}: đã kết thúc ({name})."
STAFF_HANDOFF_TIMED_OUT = (
    "⌛ #{number} · {channel}: tự kết thúc sau {minutes} phút không có tin nhắn."
)
STAFF_HANDOFF_GONE = (
    "#{number} đã kết thúc; người dân không nhận được tin này. Nếu cần, người dân sẽ "
    "nhắn “gặp cán bộ” lại."
)
STAFF_HANDOFF_NOT_DELIVERED = "⚠️ #{number}: chưa gửi được câu trả lời tới người dân ({channel})."
STAFF_HANDOFF_REPLY_HOW = (
    "Để trả lời người dân, hãy trả lời (Reply) một tin nhắn có số #… của họ; "
    "/xong trả lời vào tin nhắn đó để kết thúc."
)
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "web": "Web chat", "console": "Console"}
DOSSIER_PROMPT = (
    "Bạn hãy gửi mã hồ sơ ghi trên phiếu tiếp nhận và hẹn trả kết quả, "
    "ví dụ 000.00.12.H58-251120-0001."
)
DOSSIER_CODE_MALFORMED = (
    "Mã hồ sơ “{typed}” chưa đúng: {part} {problem}.\n"
    "Mã đúng có dạng {expected}, ví dụ {example}. Bạn kiểm tra lại phiếu hẹn giúp tôi."
)
DOSSIER_CODE_PART = {
    "agency": "phần mã cơ quan “{value}”",
    "date": "phần ngày tiếp nhận “{value}”",
    "counter": "phần số thứ tự “{value}”",
}
DOSSIER_CODE_PART_MISSING = {
    "agency": "phần mã cơ quan",
    "date": "phần ngày tiếp nhận",
    "counter": "phần số thứ tự",
}
DOSSIER_CODE_PROBLEM = {
    "wrong_shape": "viết không đúng dạng",
    "wrong_length": "không đủ hoặc thừa chữ số",
    "missing": "bị thiếu",
    "impossible_date": "không phải là ngày có thật",
    "future_date": "là một ngày chưa tới",
    "zero_counter": "không thể bằng 0",
}
VERIFY_PHONE = (
    "Để bảo vệ thông tin, bạn hãy gửi 4 số cuối số điện thoại của người nộp hồ sơ {code}."
)
VERIFY_ID = (
    "Để bảo vệ thông tin, bạn hãy gửi 4 số cuối số căn cước (CCCD) của người nộp hồ sơ {code}."
)
VERIFY_FORMAT = "Bạn chỉ cần gửi đúng 4 chữ số, ví dụ 1234."
PHOTO_CODE_READ = "Mã hồ sơ đọc từ ảnh: {code}"
PHOTO_NO_CODE = (
    "Tôi không tìm thấy mã QR hay mã vạch của phiếu hẹn trong ảnh này. Bạn hãy gõ mã hồ sơ "
    "in trên phiếu, ví dụ 000.00.12.H58-251120-0001, hoặc chụp lại mã QR cho gần, rõ và đủ sáng."
)
PHOTO_TOO_LARGE = (
    "Ảnh quá lớn (tối đa {megabytes} MB). Bạn hãy chụp lại chỉ phần mã QR trên phiếu hẹn, "
    "hoặc gõ mã hồ sơ in trên phiếu."
)
PHOTO_UNREADABLE = (
    "Tôi không mở được tệp này. Bạn hãy gửi ảnh chụp (JPG hoặc PNG) mã QR trên phiếu hẹn, "
    "hoặc gõ mã hồ sơ in trên phiếu."
)
PHOTO_NOT_RECEIVED = (
    "Ảnh chưa tải về được. Bạn vui lòng gửi lại ảnh, hoặc gõ mã hồ sơ in trên phiếu hẹn."
)
PHOTO_NOT_READ = "Kênh này chưa đọc được ảnh. Bạn hãy gõ câu hỏi, hoặc mã hồ sơ in trên phiếu hẹn."
VERIFY_NEEDS_CODE = (
    "Nếu đây là số điện thoại (hoặc 4 số cuối) của người nộp hồ sơ, bạn hãy gửi mã hồ sơ "
    "ghi trên phiếu hẹn trước, ví dụ 000.00.12.H58-251120-0001, rồi tôi sẽ hỏi 4 số cuối. "
    "Bạn cũng có thể chụp ảnh mã QR trên phiếu hẹn và gửi cho tôi."
)
DOSSIER_NOT_FOUND = (
    "Không tìm thấy hồ sơ khớp với mã và thông tin xác minh bạn gửi. "
    "Bạn kiểm tra lại mã trên phiếu hẹn và 4 số cuối, hoặc gọi {hotline}."
)
DOSSIER_LOCKED = (
    "Bạn đã tra cứu sai hoặc quá nhiều lần. Vui lòng thử lại sau {wait}, "
    "hoặc gọi đường dây nóng {hotline}."
)
# The dossier itself must wait (many wrong digits, from anyone): the owner is told what to
# do meanwhile. The same sentence whether such a dossier exists or not.
DOSSIER_GUARDED = (
    "Hồ sơ {code} đang tạm khóa tra cứu vì đã có nhiều lần nhập sai thông tin xác minh. "
    "Bạn vui lòng thử lại sau {wait}.\n"
    "Nếu đây là hồ sơ của bạn và bạn cần biết ngay, hãy gọi đường dây nóng {hotline} "
    "hoặc mang phiếu hẹn và giấy tờ tùy thân đến quầy tiếp nhận để được tra cứu trực tiếp."
)
DOSSIER_LOOKUPS_PAUSED = (
    "Để bảo vệ thông tin, việc tra cứu hồ sơ mới đang tạm dừng vì có quá nhiều lần nhập "
    "sai. Bạn vui lòng thử lại sau {wait}, hoặc gọi đường dây nóng {hotline}."
)
DOSSIER_UNAVAILABLE = (
    "Xin lỗi, hệ thống tra cứu hồ sơ đang tạm gián đoạn. Bạn vui lòng thử lại sau, "
    "hoặc gọi {hotline}. Các câu hỏi về thủ tục tôi vẫn trả lời bình thường."
)
DOSSIER_DISABLED = (
    "Trung tâm chưa mở tra cứu hồ sơ qua kênh này. Bạn vui lòng gọi {hotline} "
    "hoặc tra cứu trên Cổng Dịch vụ công."
)
DOSSIER_HEADING = "Hồ sơ {code}"
DOSSIER_PROCEDURE = "Thủ tục: {procedure}"
DOSSIER_APPLICANT = "Người nộp: {applicant}"
DOSSIER_STATUS = "Tình trạng: {status}"
DOSSIER_STEP = "Đang ở bước: {step}"
DOSSIER_AGENCY = "Cơ quan xử lý: {agency}"
DOSSIER_RECEIVED = "Ngày tiếp nhận: {date}"
DOSSIER_DUE = "Ngày hẹn trả kết quả: {date}"
DOSSIER_NEW_DUE = "Ngày hẹn mới: {date}"
DOSSIER_FINISHED = "Ngày có kết quả: {date}"
DOSSIER_RETURNED = "Ngày trả kết quả: {date}"
DOSSIER_OVERDUE = "⚠️ Hồ sơ đã quá hạn {days} ngày làm việc. Trung tâm xin lỗi vì sự chậm trễ."
DOSSIER_OVERDUE_TODAY = "⚠️ Hồ sơ đã quá ngày hẹn trả. Trung tâm xin lỗi vì sự chậm trễ."
DOSSIER_DAYS_LEFT = "Còn {days} ngày làm việc đến ngày hẹn."
DOSSIER_OVERDUE_NEW_DUE = (
    "⚠️ Hồ sơ đã quá hạn so với ngày hẹn ban đầu; cơ quan xử lý đã hẹn lại ngày {date}."
)
DOSSIER_MISSING_HEADING = "Cần bổ sung"
DOSSIER_MISSING_HINT = "Bạn mang các giấy tờ trên đến nơi đã nộp hồ sơ, hoặc bổ sung trực tuyến."
DOSSIER_PAYMENT_HINT = (
    "Bạn cần nộp khoản tiền (thuế, phí, lệ phí) theo thông báo để hồ sơ được tiếp tục xử lý."
)
DOSSIER_READY = "✅ Đã có kết quả. Bạn mang phiếu hẹn và giấy tờ tùy thân đến nhận tại: {place}."
DOSSIER_NOTE = "Ghi chú: {note}"
DOSSIER_HISTORY_HEADING = "Quá trình xử lý hồ sơ {code}"
DOSSIER_HISTORY_LINE = "• {date}: {status}"
DOSSIER_HISTORY_STEP = " — {step}"
DOSSIER_HISTORY_AGENCY = " ({agency})"
DATE_UNKNOWN = "chưa rõ ngày"
DOSSIER_HISTORY_EMPTY = "Chưa có bước xử lý nào được ghi lại."
BUTTON_HISTORY = "Xem quá trình xử lý"
BUTTON_WATCH = "🔔 Báo tôi khi có thay đổi"
BUTTON_UNWATCH = "🔕 Thôi theo dõi hồ sơ này"
WATCH_ON = "Đã bật thông báo. Khi hồ sơ {code} thay đổi tình trạng, tôi sẽ nhắn cho bạn."
WATCH_OFF = "Đã tắt thông báo cho hồ sơ {code}."
WATCH_NEEDS_LOOKUP = "Bạn hãy tra cứu hồ sơ (gửi mã hồ sơ) trước khi bật thông báo."
WATCH_ALREADY = "Thông báo cho hồ sơ {code} đã được bật từ trước."
WATCH_RETURNED = "Hồ sơ {code} đã trả kết quả nên không cần theo dõi nữa."
WATCH_NOT_OFFERED = "Trung tâm chưa gửi thông báo thay đổi hồ sơ qua kênh này."
WATCH_NOT_WATCHING = "Bạn chưa bật thông báo cho hồ sơ {code}."
# The web chat cannot reach a citizen once the page is closed: notices go by Telegram or Zalo.
WATCH_ELSEWHERE_HEADING = "Nhận thông báo về hồ sơ {code}"
WATCH_ELSEWHERE_INTRO = (
    "Trang web không nhắn lại được cho bạn khi bạn đã đóng trang. Bạn có thể nhận thông báo qua:"
)
WATCH_ELSEWHERE_TELEGRAM = (
    "• Telegram: bấm “{button}”, rồi bấm “Bắt đầu” (Start) trong Telegram. Hồ sơ sẽ được "
    "theo dõi ngay, không cần gửi lại mã. Đường dẫn chỉ dùng được một lần, trong {minutes} phút."
)
WATCH_ELSEWHERE_ZALO = (
    "• Zalo: bấm “{button}”, chọn “Quan tâm”, gửi mã hồ sơ {code} cho Trung tâm rồi chọn "
    "“Báo tôi khi có thay đổi”."
)
BUTTON_OPEN_TELEGRAM = "Mở Telegram"
BUTTON_OPEN_ZALO = "Mở Zalo"
FOLLOW_LINK_DONE = (
    "Đã nhận hồ sơ {code} từ trang web. Khi hồ sơ thay đổi tình trạng, tôi sẽ nhắn cho bạn "
    "tại đây. Gửi mã hồ sơ bất cứ lúc nào để xem tình trạng."
)
FOLLOW_LINK_EXPIRED = (
    "Đường dẫn theo dõi hồ sơ này đã hết hạn hoặc đã được dùng. Bạn hãy gửi mã hồ sơ "
    "(in trên phiếu hẹn) ở đây để tra cứu và bật thông báo."
)
DOSSIER_ATTEMPTS_LEFT = "Bạn còn {attempts} lần thử."
DOSSIER_UPDATE_HEADING = "🔔 Hồ sơ {code} có cập nhật"
DOSSIER_UPDATE_STATUS = "Tình trạng mới: {status}"
DOSSIER_RETURNED_FINAL = (
    "Hồ sơ đã trả kết quả, tôi ngừng theo dõi hồ sơ này. Cảm ơn bạn đã sử dụng dịch vụ!"
)
RATING_QUESTION = (
    "Bạn hài lòng thế nào với việc giải quyết hồ sơ {code}? "
    "(1 = rất không hài lòng, 5 = rất hài lòng)"
)
RATING_THANKS = "Cảm ơn bạn đã đánh giá {stars}! Nếu muốn, bạn gõ thêm góp ý (hoặc gõ “bỏ qua”)."
RATING_NEEDS_LOOKUP = (
    "Chỉ đánh giá được hồ sơ bạn đã tra cứu trong cuộc trò chuyện này. "
    "Bạn gõ mã số biên nhận để tra cứu trước nhé."
)
RATING_COMMENT_THANKS = "Cảm ơn góp ý của bạn. Trung tâm sẽ xem xét để phục vụ tốt hơn."
SKIP_WORDS = ("bỏ qua", "bo qua", "không", "khong", "ko", "thôi", "thoi", "skip")

# Plain words for the national portal's standard statuses (1..10).
STATUS_PLAIN = {
    1: "Mới đăng ký, chờ cán bộ tiếp nhận",
    2: "Đã được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang được giải quyết",
    5: "Cần bổ sung giấy tờ",
    6: "Chờ bạn nộp thuế, phí hoặc lệ phí",
    7: "Bạn đã yêu cầu rút hồ sơ",
    8: "Đã dừng xử lý",
    9: "Đã giải quyết xong, chờ trả kết quả",
    10: "Đã trả kết quả",
}

# Durations for lockouts.
DURATION_MINUTES = "{minutes} phút"
DURATION_SECONDS = "{seconds} giây"
DURATION_HOURS = "{hours} giờ"

# --- notices (subscriptions) ------------------------------------------------------------

NOTICES_MENU = (
    "Bạn muốn nhận thông báo nào của Trung tâm (lịch nghỉ, thay đổi quy định, giờ làm việc)?"
)
NOTICES_CURRENT_ALL = "Hiện bạn đang nhận mọi thông báo."
NOTICES_CURRENT_TOPICS = "Hiện bạn đang nhận thông báo về: {labels}."
NOTICES_ALL = "Tất cả thông báo"
NOTICES_TOPIC = "Chỉ {label}"
NOTICES_STOP = "Thôi nhận thông báo"
NOTICES_ON_ALL = "Đã đăng ký nhận mọi thông báo. Gõ /huythongbao bất cứ lúc nào để thôi nhận."
NOTICES_ON_TOPIC = (
    "Đã đăng ký nhận thông báo về {label}. Gõ /huythongbao bất cứ lúc nào để thôi nhận."
)
NOTICES_OFF = "Bạn đã thôi nhận thông báo. Muốn nhận lại, gõ /thongbao."
NOTICES_NOT_AVAILABLE = (
    "Thông báo của Trung tâm được gửi qua Zalo và Telegram. "
    "Bạn hãy nhắn cho Trung tâm trên một trong hai kênh đó và gõ /thongbao."
)
NOTICES_ELSEWHERE = (
    "Thông báo của Trung tâm được gửi qua Telegram và Zalo, vì trang web không nhắn lại được "
    "khi bạn đã đóng trang. Bấm nút bên dưới để mở trò chuyện với Trung tâm, rồi gõ /thongbao."
)
NOTICE_HEADING = "📢 Thông báo từ {center_name}"
NOTICE_FOOTER = "Gõ /huythongbao để thôi nhận thông báo."

# --- channels: what each chat surface adds around the replies -----------------------------

# Zalo has no buttons: choices are numbered, and the citizen answers with the number.
ZALO_CHOICE_HINT = "Trả lời bằng số tương ứng để chọn."

CONSOLE_CHOICE_HINT = "(Gõ số để chọn, /quit để thoát)"
CONSOLE_IMAGE_NOTE = "[hình ảnh: {filename}, {size} byte]"

# The web chat page (bot/channels/web_chat.html); the title is the center's name when set.
WEB_PAGE_TITLE = "Hỏi đáp thủ tục hành chính"
WEB_CONVERSATION_LABEL = "Cuộc trò chuyện"
WEB_INPUT_LABEL = "Câu hỏi của bạn"
WEB_INPUT_PLACEHOLDER = "Nhập câu hỏi, ví dụ: làm giấy khai sinh cần gì?"
WEB_SEND = "Gửi"
WEB_PHOTO_BUTTON = "Chụp hoặc chọn ảnh mã QR trên phiếu hẹn"
WEB_PHOTO_SENT = "Ảnh phiếu hẹn đã gửi"
WEB_PHOTO_FAILED = "Chưa gửi được ảnh. Bạn vui lòng thử lại, hoặc gõ mã hồ sơ in trên phiếu hẹn."
WEB_CONNECTING = "Đang kết nối…"
WEB_RECONNECTING = "Mất kết nối. Đang kết nối lại…"
WEB_NOT_CONNECTED = "Chưa kết nối được. Xin vui lòng thử lại sau giây lát."
WEB_TYPING = "Đang trả lời…"
WEB_IMAGE_ALT = "Hình ảnh kèm theo câu trả lời"
WEB_YOU = "Bạn"
WEB_BOT = "Trợ lý"
WEB_RATE_LIMITED = "Bạn gửi tin hơi nhanh. Xin vui lòng đợi một chút rồi gửi tiếp."
WEB_TOO_LONG = "Tin nhắn quá dài. Xin vui lòng viết ngắn gọn hơn (tối đa {limit} ký tự)."
# A frame the page did not send (not JSON, too deeply nested): the chat goes on.
WEB_BAD_MESSAGE = "Tin nhắn không đọc được. Xin vui lòng gõ lại câu hỏi."
