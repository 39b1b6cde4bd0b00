// The PluginAPI target is a header; SwiftPM needs one C file.
