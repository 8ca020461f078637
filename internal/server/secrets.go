package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/cdnd/cdnd/internal/keyring"
)

// Files cdnd writes into the data directory, each 0600.
const (
	masterKeyFile  = "master.key"
	adminTokenFile = "admin.token"
	rootCredsFile  = "root-credentials"
	secretFilePerm = 0o600
	dataDirPerm    = 0o700
)

// loadKeyring returns the keyring that seals secrets: from the environment's
// base64 key, else the named key file, else the data directory's own file,
// generated on first start.
func loadKeyring(envKey, keyFile, dataDir string, log *slog.Logger) (*keyring.Keyring, error) {
	if envKey != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(envKey))
		if err != nil {
			return nil, errors.New("CDND_MASTER_KEY is not base64")
		}
		return keyring.New(key)
	}
	if keyFile != "" {
		text, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("master key file: %w", err)
		}
		return keyring.ParseKeys(text)
	}
	path := filepath.Join(dataDir, masterKeyFile)
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, line, err := keyring.Generate()
		if err != nil {
			return nil, err
		}
		if err := writeSecretFile(path, line+"\n"); err != nil {
			return nil, err
		}
		log.Warn("generated a master key in the data directory; anyone who can read it can open the sealed private keys. Set CDND_MASTER_KEY or --master-key-file to keep it elsewhere", "path", path)
		text = []byte(line)
	} else if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return keyring.ParseKeys(text)
}

// loadAdminToken returns the operator API's token: the environment's, else
// the data directory's file, generated on first start.
func loadAdminToken(envToken, dataDir string) (token string, generated bool, err error) {
	if envToken != "" {
		return envToken, false, nil
	}
	path := filepath.Join(dataDir, adminTokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	return token, true, writeSecretFile(path, token+"\n")
}

// AdminTokenPath is where a generated operator token is kept; the CLI reads it.
func AdminTokenPath(dataDir string) string { return filepath.Join(dataDir, adminTokenFile) }

func writeSecretFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), dataDirPerm); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, secretFilePerm)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
