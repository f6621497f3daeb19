; The installer's own sentences (deploy/windows/cdsync-agent.nsi), in
; Vietnamese (the default) and English. MUI's come from NSIS's
; Vietnamese.nlf / English.nlf.
!macro L NAME VI EN
  LangString ${NAME} ${LANG_VIETNAMESE} "${VI}"
  LangString ${NAME} ${LANG_ENGLISH} "${EN}"
!macroend

!insertmacro L SrvTitle "Máy chủ tổng hợp cấp trên" "The aggregator you report to"
!insertmacro L SrvSub "Địa chỉ và khóa công khai do cấp trên (tỉnh) cung cấp." "Address and public key, given by the office you report to (the province)."
!insertmacro L SrvEndpoint "Địa chỉ máy chủ (tcp://máy:cổng):" "Aggregator endpoint (tcp://host:port):"
!insertmacro L SrvKey "Khóa công khai của máy chủ (cds1:...):" "Aggregator public key (cds1:...):"
!insertmacro L SrvCommune "Mã xã (đơn vị báo cáo, ví dụ 27901):" "Commune code (reporting org units, e.g. 27901):"
!insertmacro L SrvHelp "Cấp trên gửi cho xã địa chỉ và khóa này (tệp hoặc tin nhắn). Hãy dán nguyên văn; khóa dài 91 ký tự, bắt đầu bằng cds1:." "The office you report to sends these (a file or a message). Paste them as they are; the key is 91 characters starting with cds1:."
!insertmacro L BadEndpoint "Địa chỉ máy chủ không đúng dạng tcp://máy:cổng (cổng 1-65535)." "The endpoint is not tcp://host:port (port 1-65535)."
!insertmacro L BadKey "Khóa công khai không đúng: cần cds1: và 86 ký tự (dán nguyên văn từ cấp trên)." "The public key is wrong: cds1: and 86 characters expected (paste it as it was sent)."
!insertmacro L BadCommune "Mã xã chỉ gồm chữ, số, '_', '-', '.'; nhiều mã cách nhau bằng dấu phẩy." "The commune code is letters, digits, '_', '-', '.'; several codes separated by commas."
!insertmacro L IdTitle "Mã định danh của máy này" "This PC's identity"
!insertmacro L IdSub "Gửi mã này cho cấp trên để cấp trên ghi danh máy." "Send it to the office you report to, so that it enrolls this PC."
!insertmacro L IdText "Đây là mã định danh công khai của máy (không bí mật). Cấp trên cần mã này để nhận số liệu của xã: sao chép hoặc lưu ra tệp rồi gửi cho cấp trên." "This is the PC's public identity (not a secret). The office you report to needs it to accept the commune's data: copy it or save it to a file and send it there."
!insertmacro L IdCopy "Sao chép" "Copy"
!insertmacro L IdSave "Lưu ra tệp..." "Save to file..."
!insertmacro L IdCopied "Đã sao chép mã định danh." "The identity is on the clipboard."
!insertmacro L IdCopyFail "Không mở được bộ nhớ tạm; hãy chọn chữ trong ô và nhấn Ctrl+C." "Cannot open the clipboard; select the text and press Ctrl+C."
!insertmacro L IdSaved "Đã lưu:" "Saved:"
!insertmacro L IdSaveFail "Không lưu được:" "Cannot save:"
!insertmacro L IdFile "Mã cũng được lưu ở" "It is also in"
!insertmacro L IdFailed "Không tạo được mã định danh (xem logs\setup.log):" "Could not make the identity (see logs\setup.log):"
!insertmacro L FinishTitle "Đã cài đặt cdsync" "cdsync is installed"
!insertmacro L FinishText "Dịch vụ cdsync-agent chạy nền và tự khởi động cùng Windows.$\r$\n$\r$\nMã định danh gửi cấp trên:$\r$\n$PubId2$\r$\n$\r$\nKiểm tra: mở Command Prompt, gõ cdsync-agent status" "The cdsync-agent service runs in the background and starts with Windows.$\r$\n$\r$\nIdentity to send to the office you report to:$\r$\n$PubId2$\r$\n$\r$\nTo check: in a Command Prompt, cdsync-agent status"
!insertmacro L UnProgram "Chương trình và dịch vụ" "Program and service"
!insertmacro L UnProgramDesc "Dừng và gỡ dịch vụ cdsync-agent, xóa chương trình." "Stops and removes the cdsync-agent service, removes the program."
!insertmacro L UnData "Xóa cả dữ liệu (cấu hình, mã định danh, hàng đợi)" "Remove data too (config, identity, queue)"
!insertmacro L UnDataDesc "Xóa %ProgramData%\cdsync: số liệu chưa gửi và mã định danh sẽ mất. Không chọn nếu sẽ cài lại." "Removes %ProgramData%\cdsync: unsent values and the identity are lost. Leave unticked to reinstall later."
